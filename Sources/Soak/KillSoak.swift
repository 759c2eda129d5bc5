import AlarmCodecs
import AlarmCore
import AlarmRuntime
import CentreSMS
import Glibc
import PosixIO
import SimCentre
import Synchronization

/// Runs the real daemon on the simulated world (modem emulator on a pty, scripted position, our DC-09 receiver in
/// this process), raises alarms and kills the daemon with SIGKILL at random moments — right after the trigger (during
/// the dial), after a report left (before its ACK), or after a random delay — then starts it again. Checks, at the
/// centre and on the daemon's timeline: every alarm raised arrives; no alarm is counted twice; after every restart
/// an active alarm resumes and gets a call attempt.
public final class KillSoak {
    public struct Configuration: Sendable {
        public var seed: UInt64
        public var kills: Int
        /// The alarmd executable.
        public var daemon: String
        /// A fresh directory for the board, storage, socket and log.
        public var workDirectory: String
        /// Bound on every wait; a wait that runs out is a violation, not a hang.
        public var waitMilliseconds: Int32 = 20_000

        public init(seed: UInt64, kills: Int, daemon: String, workDirectory: String) {
            self.seed = seed
            self.kills = kills
            self.daemon = daemon
            self.workDirectory = workDirectory
        }
    }

    public struct Outcome: Sendable {
        public var kills = 0
        public var alarmsRaised: [Int] = []
        public var alarmsAtCentre: [Int] = []
        public var violations: [String] = []
        public var seed: UInt64 = 0
        public var summary: String {
            "seed \(seed): \(kills) kills, \(Set(alarmsRaised).count) alarms raised, \(alarmsAtCentre.count) at the centre once each, "
                + (violations.isEmpty ? "no violations" : "\(violations.count) violation(s): " + violations.prefix(5).joined(separator: "; "))
        }
    }

    final class Centre: Sendable {
        let frames = Mutex<[DC09Receiver.Received]>([])
    }

    let configuration: Configuration
    var random: SoakRandom
    var outcome = Outcome()
    let centre = Centre()
    var daemon: ChildProcess?
    var watcher: ControlClient?
    var counter = UInt64(time(nil)) * 1000
    /// The current daemon's modem said it is ready (seen in any record read so far).
    var modemReady = false

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        random = SoakRandom(seed: configuration.seed)
        outcome.seed = configuration.seed
    }

    var boardPath: String { configuration.workDirectory + "/soak.json5" }
    var socketPath: String { configuration.workDirectory + "/alarmd.sock" }
    var storagePath: String { configuration.workDirectory + "/state" }

    public func run() throws -> Outcome {
        let centre = self.centre
        let receiver = try DC09Receiver(accounts: ["50A": nil]) { received in centre.frames.withLock { $0.append(received) } }
        receiver.start()
        defer {
            receiver.stop()
            stopDaemon()
        }
        _ = try StorageDirectory(path: configuration.workDirectory)
        try StorageDirectory(path: configuration.workDirectory).replaceAtomically("soak.json5", with: Array(board(port: receiver.tcpPort).utf8))

        var active: Int?
        try startDaemon()
        while outcome.kills < configuration.kills {
            if active == nil {
                if !modemReady, wait("the modem to be ready", { $0.category == .network && $0.text.hasPrefix("modem ready") }) == nil { break }
                try simulator(["press", "0.4s"])
                if random.next() % 4 == 0 {
                    // Die around the trigger itself (the hold ends at 300 ms): while the journal is being written.
                    pause(milliseconds: Int32(random.next() % 500))
                    kill()
                    try startDaemon()
                    // If the trigger made it into the journal, the alarm resumes before the modem is ready.
                    let record = wait("the modem to be ready after a kill at the trigger", { record in
                        (record.category == .trigger && record.text.contains("resumed"))
                            || (record.category == .network && record.text.hasPrefix("modem ready"))
                    })
                    if let record, record.category == .trigger, let number = Self.alarmNumber(in: record.text) {
                        active = number
                        outcome.alarmsRaised.append(number)
                        if wait("a call attempt after the restart", { $0.category == .dial }) == nil {
                            violation("no call attempt for alarm #\(number) after a kill at its trigger")
                        }
                    }
                    continue
                }
                guard let raised = wait("the alarm to be raised", { $0.category == .trigger && $0.text.contains("raised") }) else { break }
                active = Self.alarmNumber(in: raised.text)
                if let active { outcome.alarmsRaised.append(active) }
            }
            // Where to die: during the dial, after a report left (before its ACK), or somewhere later.
            switch random.next() % 3 {
            case 0: break
            case 1: _ = wait("a report to leave", { $0.category == .report })
            default: pause(milliseconds: Int32(random.next() % 1500))
            }
            kill()
            try startDaemon()
            if let number = active {
                guard wait("alarm #\(number) to resume", { $0.category == .trigger && $0.text.contains("#\(number) resumed") }) != nil else {
                    violation("alarm #\(number) did not resume after restart \(outcome.kills)")
                    active = nil
                    continue
                }
                if wait("a call attempt after the restart", { $0.category == .dial }) == nil {
                    violation("no call attempt for alarm #\(number) after restart \(outcome.kills)")
                }
                // Now and then the centre, having the alarm, ends it, so the next round raises a new one.
                if random.next() % 2 == 0 {
                    guard awaitCentre(alarm: number) else {
                        violation("alarm #\(number) never reached the centre")
                        active = nil
                        continue
                    }
                    try endAlarm(number)
                    if wait("alarm #\(number) to end", { $0.category == .alarmEnd }) == nil {
                        violation("alarm #\(number) did not end on the centre's command")
                    }
                    active = nil
                }
            }
        }
        // Every alarm raised must be at the centre, once.
        for number in Set(outcome.alarmsRaised) where !awaitCentre(alarm: number) {
            violation("alarm #\(number) never reached the centre")
        }
        let alarms = centre.frames.withLock { $0 }.filter { $0.code == "HA" && !$0.duplicate }
        var byAlarm: [String: Set<Int>] = [:]
        for frame in alarms { byAlarm[frame.detail["alarm"] ?? "?", default: []].insert(frame.sequence) }
        for (alarm, sequences) in byAlarm where sequences.count > 1 {
            violation("alarm #\(alarm) counted \(sequences.count) times at the centre (sequences \(sequences.sorted()))")
        }
        outcome.alarmsAtCentre = byAlarm.keys.compactMap { Int($0) }.sorted()
        for number in Set(outcome.alarmsRaised) where !outcome.alarmsAtCentre.contains(number) {
            violation("alarm #\(number) reached the centre only as a duplicate of another report (a sequence reused)")
        }
        return outcome
    }

    func board(port: UInt16) -> String {
        """
        // Generated by the kill soak.
        { name: "soak", kind: "simulator", device: { id: "BE-SOAK-1" }, silence: "no-speaker",
          roles: { button: "sim:", position: "sim:route", modem: "pty:sim?profile=quectel-ec25", reportLink: "dc09+tcp://127.0.0.1:\(port)" },
          storage: "\(storagePath)", controlSocket: "\(socketPath)",
          alarm: { triggerHold: "300ms", centreNumbers: ["+3292000101"], smsNumber: "+3292000199", trackingInterval: "2s",
                   reportAckTimeout: "2s", smsFallbackAfter: "5s", callSetupTimeout: "10s", redialInitialDelay: "500ms" },
          reporting: { account: "50A", prefix: "1", receiver: "1", encryption: "none" },
          simulation: { modem: { registerAfter: "200ms", answerAfter: "1s" } } }
        """
    }

    func startDaemon() throws {
        let log = try FileDescriptor.open(configuration.workDirectory + "/alarmd.log", O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        defer { try? log.close() }
        daemon = try ChildProcess.spawn(configuration.daemon, ["--board", boardPath, "--log-level", "warning"], stdout: log, stderr: log)
        let deadline = SystemTime.monotonicNanoseconds() + Int64(configuration.waitMilliseconds) * 1_000_000
        while true {
            if let client = try? ControlClient(socketPath: socketPath), (try? client.startWatching()) != nil {
                watcher = client
                return
            }
            if let status = try daemon?.wait(timeoutMilliseconds: 20) {
                throw SoakFailure("alarmd exited with status \(status) at start; see \(configuration.workDirectory)/alarmd.log")
            }
            if SystemTime.monotonicNanoseconds() > deadline { throw SoakFailure("alarmd did not open its control socket") }
        }
    }

    func kill() {
        daemon?.signal(SIGKILL)
        _ = try? daemon?.wait(timeoutMilliseconds: 10_000)
        daemon = nil
        watcher = nil
        modemReady = false
        outcome.kills += 1
    }

    func stopDaemon() {
        _ = daemon?.stop(graceMilliseconds: 3000)
        daemon = nil
    }

    /// The next record matching `predicate` (the watch replays recent history first, so nothing is missed).
    func wait(_ what: String, _ predicate: (TimelineRecord) -> Bool) -> TimelineRecord? {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(configuration.waitMilliseconds) * 1_000_000
        while let watcher {
            let left = (deadline - SystemTime.monotonicNanoseconds()) / 1_000_000
            guard left > 0 else { break }
            guard let record = try? watcher.nextRecord(timeoutMilliseconds: Int32(left)) else { break }
            observe(record)
            if predicate(record) { return record }
        }
        violation("timed out waiting for \(what)")
        return nil
    }

    /// Lets the daemon run for a while: the records it writes meanwhile are read and dropped.
    func pause(milliseconds: Int32) {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(milliseconds) * 1_000_000
        while let watcher {
            let left = (deadline - SystemTime.monotonicNanoseconds()) / 1_000_000
            guard left > 0, let record = try? watcher.nextRecord(timeoutMilliseconds: Int32(left)) else { return }
            observe(record)
        }
    }

    func observe(_ record: TimelineRecord) {
        if record.category == .network && record.text.hasPrefix("modem ready") { modemReady = true }
    }

    func awaitCentre(alarm: Int) -> Bool {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(configuration.waitMilliseconds) * 1_000_000
        while SystemTime.monotonicNanoseconds() < deadline {
            if centre.frames.withLock({ $0.contains { $0.code == "HA" && $0.detail["alarm"] == String(alarm) } }) { return true }
            // The daemon's timeline moves when the centre answers; read it rather than sleeping.
            if let record = try? watcher?.nextRecord(timeoutMilliseconds: 200) { observe(record) }
        }
        return false
    }

    func endAlarm(_ number: Int) throws {
        let key = try SMSKey(text: String(decoding: try SecretFile.read(storagePath + "/sms.key", limit: 256), as: UTF8.self))
        counter += 1
        let text = SMSCommand(deviceID: "BE-SOAK-1", counter: counter, verb: .endAlarm, argument: number).text(key: key)
        try simulator(["sms", "+3292000101", text])
    }

    func simulator(_ arguments: [String]) throws {
        let response = try ControlClient(socketPath: socketPath).request(ControlRequest(command: "sim", arguments: arguments))
        guard response.ok else { throw SoakFailure(response.error ?? "sim \(arguments.first ?? "") refused") }
    }

    func violation(_ text: String) { outcome.violations.append("[kill \(outcome.kills)] \(text)") }

    static func alarmNumber(in text: String) -> Int? {
        guard let hash = text.firstIndex(of: "#") else { return nil }
        return Int(text[text.index(after: hash)...].prefix { $0.isNumber })
    }
}

public struct SoakFailure: Error, CustomStringConvertible {
    public var description: String
    init(_ text: String) { description = text }
}

/// SplitMix64: small, seedable, the same sequence on every machine (a failing seed replays exactly).
public struct SoakRandom: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
