import AlarmRuntime
import ArgumentParser
import CentreSMS
import Dispatch
import Glibc
import PosixIO
import SimTools

/// `make sim`: starts the simulated centre and the daemon on the simulator board, presses the button
/// through the simulator, and prints the alarm's timeline in milliseconds since the trigger.
@main
struct AlarmSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm-sim",
        abstract: "Run one complete alarm on simulated hardware and print its timeline.")

    @Option(help: "Simulator board file.") var board = "boards/sim.json5"
    @Option(help: "How long to hold the button.") var hold = "2.5s"
    @Option(help: "The centre ends the alarm after this many position updates.") var endAfterUpdates = 3
    @Option(help: "Give up after this long.") var timeout = "60s"
    @Option(help: "Directory for the daemon's and the centre's logs.") var logs = ".sim"
    @Option(help: "NMEA log gpsd replays (through gpsfake) when the board's position role is gpsd://.")
    var nmea = "Tests/Fixtures/ghent-walk.nmea"

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let parsed: Board
        do { parsed = try Board.load(path: board) } catch { throw ValidationError("\(error)") }
        guard parsed.kind != .device else { throw ValidationError("\(board) is a device board; alarm-sim needs a simulator board") }
        guard let limit = DurationText.parse(timeout), DurationText.parse(hold) != nil else {
            throw ValidationError("--timeout and --hold take durations such as 60s or 2.5s")
        }
        let bin = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/"))
        _ = try StorageDirectory(path: logs)
        let centreLog = try FileDescriptor.open("\(logs)/centre.log", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        let daemonLog = try FileDescriptor.open("\(logs)/alarmd.log", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)

        var children: [ChildProcess] = []
        var gpsd: GPSFake?
        defer {
            for child in children.reversed() { child.stop(graceMilliseconds: 3000) }
            gpsd?.stop()
        }
        if parsed.roles[.position]?.scheme == "gpsd", let (_, port) = parsed.roles[.position]?.hostAndPort {
            guard GPSFake.isAvailable else { throw ValidationError(GPSFake.unavailableMessage) }
            gpsd = try GPSFake.start(log: nmea, port: port, outputPath: "\(logs)/gpsd.log")
        }
        if parsed.roles[.audio]?.scheme == "alsa" || parsed.evidence != nil { try SimAudioFiles.prepare(directory: logs) }
        let dc09 = parsed.roles[.reportLink]?.scheme.hasPrefix("dc09") == true
        if parsed.roles[.reportLink]?.scheme == "tcp", let (_, port) = parsed.roles[.reportLink]?.hostAndPort {
            children.append(try ChildProcess.spawn("\(bin)/alarm-centre",
                ["--port", "\(port)", "--end-after-updates", "\(endAfterUpdates)"], stdout: centreLog, stderr: centreLog))
        }
        if dc09, let reporting = parsed.reporting, let (_, port) = parsed.roles[.reportLink]?.hostAndPort {
            var arguments = ["--dc09", "--port", "\(port)", "--account", reporting.account, "--key-encoding", reporting.keyEncoding,
                             // The receiver looks down for the alarm frame: the SMS fallback shows, then IP delivers.
                             "--ignore-first", "1"]
            if let keyFile = reporting.keyFile {
                try Self.ensureKey(keyFile, encoding: reporting.keyEncoding)
                arguments += ["--key-file", keyFile]
            }
            children.append(try ChildProcess.spawn("\(bin)/alarm-centre", arguments, stdout: centreLog, stderr: centreLog))
        }
        children.append(try ChildProcess.spawn("\(bin)/alarmd-sim", ["--board", board, "--log-level", "info"],
                                               stdout: daemonLog, stderr: daemonLog))
        let started = children
        // Ctrl-C must not leave gpsd (in its own session) or the daemon behind.
        let helpers = (children: started, gpsd: gpsd)
        let interrupt = Interrupts.install {
            for child in helpers.children.reversed() { child.stop(graceMilliseconds: 2000) }
            helpers.gpsd?.stop()
        }
        defer { withExtendedLifetime(interrupt) {} }

        let timeline = Timeline(expectSMSFallback: dc09)
        let outcome: Timeline.Outcome
        do {
            let watcher = try connect(parsed.controlSocketPath, children: children)
            try watcher.startWatching()
            let deadline = SystemTime.monotonicNanoseconds() + limit.milliseconds * 1_000_000
            var pressed = false
            while !timeline.finished {
                let left = (deadline - SystemTime.monotonicNanoseconds()) / 1_000_000
                guard left > 0 else { break }
                guard let record = try watcher.nextRecord(timeoutMilliseconds: Int32(min(left, 500))) else {
                    if let dead = children.first(where: { (try? $0.wait(timeoutMilliseconds: 0)) != nil }) {
                        print("a simulator process (pid \(dead.pid)) exited early; see \(logs)/alarmd.log and \(logs)/centre.log")
                        break
                    }
                    continue
                }
                timeline.add(record)
                if dc09, !timeline.endSent, let alarm = timeline.alarmNumber, timeline.updatesAcknowledged >= endAfterUpdates {
                    // The dispatcher has seen enough: the centre ends the alarm with a signed SMS command.
                    timeline.endSent = true
                    try sendEndCommand(parsed, alarm: alarm)
                }
                if !pressed, timeline.modemReady {
                    pressed = true
                    let response = try ControlClient(socketPath: parsed.controlSocketPath)
                        .request(ControlRequest(command: "sim", arguments: ["press", hold]))
                    guard response.ok else { throw ValidationError(response.error ?? "press refused") }
                }
            }
            outcome = timeline.outcome
        } catch {
            print("alarm-sim: \(error)")
            printTail(of: "\(logs)/alarmd.log")
            throw ExitCode(1)
        }
        if dc09 { printCentreSMS(parsed) }
        let evidenceOK = parsed.evidence == nil || exportEvidence(parsed)
        print(outcome.summary)
        print("logs: \(logs)/alarmd.log, \(logs)/centre.log" + (gpsd != nil ? ", \(logs)/gpsd.log" : ""))
        if !outcome.delivered || !evidenceOK {
            printTail(of: "\(logs)/alarmd.log")
            throw ExitCode(1)
        }
    }

    /// The centre's "end alarm N" as an authenticated SMS from the first centre number, delivered through the
    /// simulated network. The counter is the Unix time, so it grows from one run to the next.
    func sendEndCommand(_ board: Board, alarm: Int) throws {
        let keyPath = board.reporting?.smsKeyFile ?? (board.storagePath.hasSuffix("/") ? board.storagePath : board.storagePath + "/") + "sms.key"
        let key = try SMSKey(text: String(decoding: try SecretFile.read(keyPath, limit: 256), as: UTF8.self))
        let command = SMSCommand(deviceID: board.deviceID, counter: UInt64(time(nil)), verb: .endAlarm, argument: alarm)
        guard let centre = board.alarm.centreNumbers.first else { return }
        let response = try ControlClient(socketPath: board.controlSocketPath)
            .request(ControlRequest(command: "sim", arguments: ["sms", centre, command.text(key: key)]))
        guard response.ok else { throw ValidationError(response.error ?? "SMS injection refused") }
    }

    /// The centre's side of the evidence: the newest recording, verified and decrypted with the centre's key.
    func exportEvidence(_ board: Board) -> Bool {
        let bin = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        // The daemon has closed the recording when the alarm ended; give its evidence queue the moment it needs.
        let list = "\(logs)/evidence-list.txt"
        guard let listFile = try? FileDescriptor.open(list, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600),
              let lister = try? ChildProcess.spawn("\(bin)/alarmctl", ["evidence", "list", "--board", board.file], stdout: listFile, stderr: listFile),
              (try? lister.wait(timeoutMilliseconds: 10_000)) != nil,
              let text = (try? StorageDirectory.readFile(list)) ?? nil else {
            print("evidence: could not list recordings")
            return false
        }
        try? listFile.close()
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n")
        guard let newest = lines.last(where: { !$0.hasPrefix("no recordings") })?.split(separator: " ").first else {
            print("evidence: no recording was made")
            return false
        }
        let wav = "\(logs)/evidence.wav"
        let out = "\(logs)/evidence-export.txt"
        guard let outFile = try? FileDescriptor.open(out, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600),
              let exporter = try? ChildProcess.spawn("\(bin)/alarmctl", ["evidence", "export", String(newest), wav, "--centre-key",
                                                                         "\(logs)/centre-evidence.key", "--board", board.file],
                                                    stdout: outFile, stderr: outFile),
              let status = try? exporter.wait(timeoutMilliseconds: 20_000) else {
            print("evidence: export did not run")
            return false
        }
        try? outFile.close()
        let said = (try? StorageDirectory.readFile(out)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        print("evidence: \(lines.last ?? "")")
        print("evidence export (centre key): " + said.trimmingNewlines)
        return status == 0
    }

    /// What reached the centre's SMS number, decrypted as the centre reads it.
    func printCentreSMS(_ board: Board) {
        guard let response = try? ControlClient(socketPath: board.controlSocketPath)
                .request(ControlRequest(command: "sim", arguments: ["sms-sent"])), response.ok, let text = response.message else { return }
        let keyPath = board.reporting?.smsKeyFile ?? (board.storagePath.hasSuffix("/") ? board.storagePath : board.storagePath + "/") + "sms.key"
        guard let bytes = try? SecretFile.read(keyPath, limit: 256), let key = try? SMSKey(text: String(decoding: bytes, as: UTF8.self)) else { return }
        let names = ["HA": "SILENT ALARM", "HS": "position update", "OC": "wearer cancel gesture", "HH": "alarm over",
                     "QA": "emergency number dialled", "YM": "BATTERY CRITICAL"]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            guard let sms = try? SMSReport.decode(String(parts[1]), key: key) else {
                print("centre SMS from \(parts[0])… not one of ours")
                continue
            }
            let f = sms.fields
            var shown = "centre SMS: \(sms.deviceID) #\(sms.sequence) \(names[f["k"] ?? ""] ?? f["k"] ?? "?") (alarm \(sms.alarmNumber))"
            if let lat = f["a"], let lon = f["o"] { shown += " at \(lat), \(lon) ±\(f["r"] ?? "?") m" }
            print(shown + ", sealed, authenticated")
        }
    }

    /// The simulator board's DC-09 key: generated once (owner-only) so the device and the simulated centre share it.
    static func ensureKey(_ path: String, encoding: String) throws {
        if (try? SecretFile.read(path, limit: 256)) != nil { return }
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789ABCDEF".utf8)
        let count = encoding == "binary-hex" ? 64 : 32
        let key = (0..<count).map { _ in digits[Int.random(in: 0..<16, using: &generator)] }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let directory = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
        try StorageDirectory(path: directory.isEmpty ? "/" : directory).replaceAtomically(String(parts.last ?? ""), with: key)
    }

    /// The daemon needs a moment to create its socket; retry until it does or dies.
    func connect(_ path: String, children: [ChildProcess]) throws -> ControlClient {
        let deadline = SystemTime.monotonicNanoseconds() + 10_000_000_000
        while true {
            if let client = try? ControlClient(socketPath: path) { return client }
            if SystemTime.monotonicNanoseconds() > deadline {
                throw ValidationError("alarmd did not open \(path) within 10 s")
            }
            for child in children {
                if let status = try child.wait(timeoutMilliseconds: 50) {
                    throw ValidationError("a simulator process exited with status \(status) before the alarm")
                }
            }
        }
    }

    func printTail(of path: String) {
        guard let bytes = try? StorageDirectory.readFile(path) else { return }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").suffix(15)
        print("--- last lines of \(path) ---")
        for line in lines { print(line) }
    }
}

/// Collects timeline records, prints them relative to the trigger, and judges the alarm.
final class Timeline {
    struct Outcome {
        var delivered: Bool
        var summary: String
    }

    let expectSMSFallback: Bool
    var endSent = false
    private(set) var alarmNumber: Int?
    private var smsFallbackAt: Int64?

    init(expectSMSFallback: Bool) { self.expectSMSFallback = expectSMSFallback }

    private var buffered: [TimelineRecord] = []
    private var triggerAt: Int64?
    private(set) var modemReady = false
    private(set) var finished = false
    private var deliveredAt: Int64?
    private var alarmAckAt: Int64?
    private var connectedAt: Int64?
    private(set) var updatesAcknowledged = 0
    private var endedAt: Int64?
    private var updateSequences: Set<String> = []

    func add(_ record: TimelineRecord) {
        switch record.category {
        case .network where record.text.hasPrefix("modem ready"): modemReady = true
        case .trigger:
            triggerAt = triggerAt ?? record.at
            if alarmNumber == nil, let hash = record.text.firstIndex(of: "#") {
                alarmNumber = Int(record.text[record.text.index(after: hash)...].prefix { $0.isNumber })
            }
        case .sms where record.text.hasPrefix("SMS fallback"): smsFallbackAt = smsFallbackAt ?? record.at
        case .delivered: deliveredAt = deliveredAt ?? record.at
        case .call where record.text.contains("connected"): connectedAt = connectedAt ?? record.at
        case .report where record.text.contains("position-update"):
            if let seq = record.text.split(separator: " ").dropFirst().first { updateSequences.insert(String(seq)) }
        case .reportAck:
            let seq = record.text.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            if updateSequences.contains(seq) { updatesAcknowledged += 1 } else if alarmAckAt == nil { alarmAckAt = record.at }
        case .alarmEnd:
            endedAt = record.at
            finished = true
        default: break
        }
        buffered.append(record)
        guard let triggerAt else { return }
        for line in buffered { print(format(line, relativeTo: triggerAt)) }
        fflush(nil)
        buffered.removeAll()
    }

    private func format(_ record: TimelineRecord, relativeTo origin: Int64) -> String {
        let ms = record.at - origin
        let stamp = (ms >= 0 ? "+" : "") + "\(ms) ms"
        let padded = String(repeating: " ", count: max(0, 10 - stamp.count)) + stamp
        let category = record.category.rawValue
        return "\(padded)  \(category)\(String(repeating: " ", count: max(1, 12 - category.count)))\(record.text)"
    }

    var outcome: Outcome {
        if triggerAt == nil {
            for line in buffered { print(format(line, relativeTo: buffered.first?.at ?? 0)) }
        }
        guard let trigger = triggerAt else {
            return Outcome(delivered: false, summary: "FAILED: the alarm was never raised")
        }
        var missing: [String] = []
        if deliveredAt == nil { missing.append("no delivery") }
        if alarmAckAt == nil { missing.append("alarm report not acknowledged") }
        if connectedAt == nil { missing.append("centre call never connected") }
        if updatesAcknowledged == 0 { missing.append("no position update acknowledged") }
        if endedAt == nil { missing.append("alarm did not end in time") }
        if expectSMSFallback && smsFallbackAt == nil { missing.append("no SMS fallback while the receiver was silent") }
        func rel(_ t: Int64?) -> String { t.map { "+\($0 - trigger) ms" } ?? "never" }
        let facts = "delivered \(rel(deliveredAt)), alarm report acknowledged \(rel(alarmAckAt)), "
            + "call connected \(rel(connectedAt)), \(updatesAcknowledged) position update(s) acknowledged, ended \(rel(endedAt))"
            + (expectSMSFallback ? ", SMS fallback \(rel(smsFallbackAt))" : "")
        if missing.isEmpty { return Outcome(delivered: true, summary: "OK: \(facts)") }
        return Outcome(delivered: false, summary: "FAILED (\(missing.joined(separator: ", "))): \(facts)")
    }
}

/// SIGINT/SIGTERM run a cleanup, then exit 130.
enum Interrupts {
    static func install(_ cleanup: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                cleanup()
                Glibc.exit(130)
            }
            source.resume()
            return source
        }
    }
}
