import AlarmCore
import AlarmRuntime
import BenchHarness
import FoundationEssentials
import Glibc
import HAL
import LinuxBackends
import PosixIO
import SecureStore

/// Time to alarm in the real daemon process — what a user waits for: the release `alarmd` on a generated simulator
/// board whose modem is `serial:` on the pty of an out-of-process `modem-emulator` (3 s supplementary-service
/// delay, as real networks take for AT+CCWA), its storage and journal on disk, triggered by the simulated button.
///
/// The interval starts at the trigger as the daemon records it: the alarm's `startedAt`, the CLOCK_MONOTONIC
/// instant (ns) at which the hold timer's callback ran, read back from the daemon's own journal (the sealed entry
/// it writes for the trigger step). It ends when the emulator process has read the ATD line's CR: the emulator
/// (`--stamp`) prints the CLOCK_MONOTONIC nanoseconds at which it handled each received line. Same machine, same
/// clock, so the two subtract.
///
/// Each alarm is ended before the next starts: the in-process centre of the `sim:` report link ends it
/// (`sim centre-end`), the daemon hangs up the call (still ringing: the emulator's far end never answers), the
/// callback window is 0 s, so the device is idle again; the bench checks both sides are clean (daemon idle, no
/// call; emulator no call, AT channel free) before the next press.
struct DaemonBench {
    var alarms: Int
    var tmpfsAlarms: Int
    var daemonOverride: String?

    let work = "/tmp/alarm-bench-daemon-\(getpid())"
    let tmpfsStorage = "/dev/shm/alarm-bench-daemon-\(getpid())"
    static let hold = "300ms"

    static let names = ["daemon.trigger-to-ATD-CR", "daemon.trigger-to-ATD-CR.journal-tmpfs",
                        "daemon.trigger-to-ATD-CR.fsync-200ms", "daemon.press-to-ATD-CR.input-fifo", "daemon.press-to-ATD-CR.evdev"]

    var binDirectory: String {
        let me = ChildProcess.executablePath()
        return String(me[..<(me.lastIndex(of: "/") ?? me.startIndex)])
    }
    var daemonPath: String { daemonOverride ?? binDirectory + "/alarmd-sim" }
    var emulatorPath: String { binDirectory + "/modem-emulator" }

    func run(_ harness: inout BenchmarkHarness) throws {
        guard Self.names.contains(where: harness.wants) else { return }
        evdevCase(&harness)
        let wanted = ["daemon.trigger-to-ATD-CR", "daemon.trigger-to-ATD-CR.journal-tmpfs",
                      "daemon.trigger-to-ATD-CR.fsync-200ms", "daemon.press-to-ATD-CR.input-fifo"].filter(harness.wants)
        guard !wanted.isEmpty else { return }
        for path in [daemonPath, emulatorPath] where access(path, X_OK) != 0 {
            for name in wanted { harness.skip(name, definition: "", reason: "\(path) not built (make bench builds it)") }
            return
        }
        _ = try StorageDirectory(path: work)
        defer {
            if getenv("ALARM_BENCH_KEEP") == nil { removeTree(work) } else { print("daemon: kept \(work)") }
            removeTree(tmpfsStorage)
        }
        let disk = "daemon.trigger-to-ATD-CR"
        if harness.wants(disk) {
            let run = try measure(name: "disk", storage: work + "/state-disk", alarms: alarms)
            harness.record(disk,
                           definition: "WHAT A USER WAITS FOR: the real alarmd's trigger (the alarm's startedAt, CLOCK_MONOTONIC ns "
                               + "as the daemon journals it: the hold timer's callback) → an out-of-process modem-emulator "
                               + "has read the CR of `ATD…;` (its own CLOCK_MONOTONIC stamp); journal on disk",
                           unit: "µs", samples: run.samples, goal: .atMost(1000, "p99 ≤ 1 ms"),
                           limit: run.limit, note: run.note(storage: "disk (ext4 on /dev/vda, fsync real)"))
        }
        let tmpfs = "daemon.trigger-to-ATD-CR.journal-tmpfs"
        if harness.wants(tmpfs) {
            let run = try measure(name: "tmpfs", storage: tmpfsStorage + "/state", alarms: tmpfsAlarms)
            harness.record(tmpfs,
                           definition: "as daemon.trigger-to-ATD-CR with the daemon's storage and journal on tmpfs (/dev/shm: "
                               + "fsync costs nothing), to show what the disk's fsync adds",
                           unit: "µs", samples: run.samples, limit: run.limit, note: run.note(storage: "tmpfs (/dev/shm)"))
        }

        let slow = "daemon.trigger-to-ATD-CR.fsync-200ms"
        if harness.wants(slow) {
            let run = try measure(name: "slowfsync", storage: work + "/state-slow", alarms: tmpfsAlarms, fsyncDelay: "200ms")
            harness.record(slow,
                           definition: "as daemon.trigger-to-ATD-CR with every journal write taking 200 ms longer (an SD card's "
                               + "fsync; the board's simulation.storage.fsyncDelay): the dial must not wait for it",
                           unit: "µs", samples: run.samples, goal: .atMost(1000, "p99 ≤ 1 ms"), limit: run.limit,
                           note: run.note(storage: "disk, every journal write +200 ms (simulation.storage.fsyncDelay)"))
        }

        let fifo = "daemon.press-to-ATD-CR.input-fifo"
        if harness.wants(fifo) {
            let run = try measure(name: "fifo", storage: work + "/state-fifo", alarms: tmpfsAlarms, inputFIFO: true)
            harness.record(fifo,
                           definition: "a key press written with its CLOCK_REALTIME timestamp into the FIFO the board's `input:` "
                               + "button reads (the stamp a kernel would give it; a FIFO has no EVIOCSCLOCKID, so the daemon "
                               + "carries it onto the monotonic clock by its age, as on an old kernel) → the emulator has read the "
                               + "ATD's CR, minus the 300 ms hold: the press as the daemon dates it, through the hold timer, to the dial",
                           unit: "µs", samples: run.samples, goal: .atMost(1000, "p99 ≤ 1 ms"), limit: run.limit,
                           note: run.note(storage: "disk (ext4, fsync real); button input:<FIFO>?key=KEY_PROG1 (no uinput here)"))
        }
    }

    // MARK: the kernel-timestamped button edge

    func evdevCase(_ harness: inout BenchmarkHarness) {
        let name = "daemon.press-to-ATD-CR.evdev"
        guard harness.wants(name) else { return }
        let definition = "kernel timestamp of a uinput key press (the board's `input:` button) held 2.1 s → the "
            + "out-of-process emulator has read the ATD's CR (minus the 2 s hold: trigger → ATD)"
        if access("/dev/uinput", W_OK) != 0 {
            let inKernel = ((try? StorageDirectory.readFile("/proc/misc")) ?? nil)
                .map { String(decoding: $0, as: UTF8.self).contains("uinput") } ?? false
            harness.skip(name, definition: definition,
                         reason: "/dev/uinput is not available here (" + (inKernel ? "the kernel has uinput but the node is missing"
                             : "no uinput misc device in this kernel's /proc/misc and no modules to load") + ")")
            return
        }
        harness.skip(name, definition: definition,
                     reason: "/dev/uinput exists but the uinput press is not implemented yet (no machine of ours had uinput to try it on)")
    }

    // MARK: one daemon, many alarms

    struct Run {
        var samples: [Double] = []
        var limit: BenchmarkHarness.Limit?
        /// Press request sent → trigger, minus the hold: control socket, the press step, the timer's lateness.
        var pressToTriggerExcess: [Double] = []
        var queuedATD = 0
        var readySeconds = 0.0
        var elapsedSeconds = 0.0
        var press = "`sim press 0.33s` (hold 300 ms; the next press after the release) through the control socket"

        func note(storage: String) -> String {
            let excess = pressToTriggerExcess.sorted()
            let excessText = excess.isEmpty ? "" : "; press sent → trigger, minus the 300 ms hold (socket, press step, "
                + "timer lateness; NOT in the interval): median \(BenchmarkHarness.format(excess[excess.count / 2])) µs, "
                + "max \(BenchmarkHarness.format(excess.last ?? 0)) µs"
            return "release alarmd-sim (developer build), board kind simulator: modem serial:<pty link>?profile=quectel-ec25 to modem-emulator "
                + "--supplementary-delay 3 --answer-after 3599 --stamp (out of process; call waiting configured once, at modem "
                + "ready, \(BenchmarkHarness.format(BenchmarkHarness.rounded(readySeconds))) s after spawn); storage and "
                + "journal on \(storage); \(press); each alarm ended by "
                + "`sim centre-end` and checked clean (daemon idle, no call; emulator no call, channel free) before the next; "
                + "\(samples.count) alarms in \(BenchmarkHarness.format(BenchmarkHarness.rounded(elapsedSeconds))) s"
                + (queuedATD > 0 ? "; \(queuedATD) ATD(s) found the AT channel busy" : "") + excessText
        }
    }

    func measure(name: String, storage: String, alarms: Int, fsyncDelay: String? = nil, inputFIFO: Bool = false) throws -> Run {
        var run = Run()
        if inputFIFO { run.press = "key press and release (330 ms later) written into the button's FIFO, hold 300 ms" }
        let spawnedAt = SystemTime.monotonicNanoseconds()
        let link = "\(work)/modem-\(name).tty"
        let emulator = try EmulatorChild(emulatorPath, ["--link", link, "--keep-running", "--supplementary-delay", "3",
                                                        "--answer-after", "3599", "--stamp"],
                                         stderrLog: "\(work)/emulator-\(name).log")
        defer { emulator.stop() }
        guard emulator.waitFor({ $0.contains("AT port on") }, timeoutMilliseconds: 10_000) != nil else {
            throw BenchFailure("modem-emulator did not start (see \(work)/emulator-\(name).log)")
        }
        let socket = "\(work)/\(name).sock"
        // The bench holds the FIFO open from the start (read-write: never blocks, never EOF for the daemon).
        let button = inputFIFO ? try FIFOButton(path: "\(work)/button-\(name).fifo") : nil
        let board = try writeBoard(name, link: link, storage: storage, socket: socket, fsyncDelay: fsyncDelay,
                                   button: button.map { "input:\($0.path)?key=KEY_PROG1" } ?? "sim:")
        let log = try FileDescriptor.open("\(work)/alarmd-\(name).log", O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        let daemon: ChildProcess
        do {
            defer { try? log.close() }
            daemon = try ChildProcess.spawn(daemonPath, ["--board", board, "--log-level", "warning"], stdout: log, stderr: log)
        }
        defer { _ = daemon.stop(graceMilliseconds: 3000) }
        let failure = { (what: String) in
            BenchFailure("daemon bench (\(name)): \(what) (see \(work)/alarmd-\(name).log); the daemon's last records:\n"
                         + recentRecords(socket).joined(separator: "\n") + "\nthe emulator's last lines:\n"
                         + emulator.recent.joined(separator: "\n"))
        }
        guard waitRegistered(daemon, socket: socket) else { throw failure("alarmd never registered") }
        // Call waiting (AT+CCWA: 3 s at the network) is configured once the modem is ready: wait it out before the first press.
        guard waitClean(emulator, socket: socket, needSupplementary: true, timeoutMilliseconds: 20_000) else {
            throw failure("the modem never became idle after start-up")
        }
        run.readySeconds = Double(SystemTime.monotonicNanoseconds() - spawnedAt) / 1e9

        let journal = SealedJournal(sealing: FileJournal(directory: try StorageDirectory(path: storage + "/state")),
                                    with: try StorageKey.load(path: storage + "/storage.key", createIfMissing: false))
        var lastNumber = (try? Self.activeAlarm(in: journal))?.number ?? 0
        var random = SystemRandomNumberGenerator()
        let started = SystemTime.monotonicNanoseconds()
        for _ in 0..<alarms {
            // A random phase, so nothing periodic in the daemon stays in step with the presses.
            pause(seconds: Double(Int.random(in: 0..<20, using: &random)) / 1000)
            emulator.clearTranscript()
            let pressedAt = SystemTime.monotonicNanoseconds()
            if let button {
                try button.write(value: 1)
            } else {
                try control(socket, ["press", "0.33s"])
            }
            guard let atd = emulator.waitStamped({ $0.hasPrefix("→ ATD") }, timeoutMilliseconds: 5000) else {
                throw failure("no ATD within 5 s of the press")
            }
            if atd.line.contains("queued") { run.queuedATD += 1 }
            // The trigger step's journal entry follows the ATD (call control goes first): read it back.
            var trigger: ActiveAlarm?
            let deadline = WaitLimit(milliseconds: 5000)
            while trigger == nil && !deadline.hasExpired {
                if let alarm = try? Self.activeAlarm(in: journal), alarm.number > lastNumber { trigger = alarm } else { pause(seconds: 0.0005) }
            }
            guard let trigger else { throw failure("no journalled alarm after the ATD") }
            lastNumber = trigger.number
            let startedAt = Self.nanoseconds(trigger.startedAt)
            guard atd.at > startedAt else { throw failure("ATD stamped before the trigger (clocks?)") }
            // From the press as written (its monotonic time a moment before its realtime stamp) less the hold, or from
            // the trigger the daemon journalled.
            run.samples.append(Double(atd.at - (button != nil ? pressedAt + 300_000_000 : startedAt)) / 1000)
            run.pressToTriggerExcess.append(Double(startedAt - pressedAt - 300_000_000) / 1000)
            if run.limit == nil {
                let command = atd.line.dropFirst(2).prefix { $0 != " " }
                run.limit = .uart(bytes: command.utf8.count + 1, "`\(command)\\r` to the modem")
            }
            if let button {
                let release = pressedAt + 330_000_000 - SystemTime.monotonicNanoseconds()
                if release > 0 { pause(seconds: Double(release) / 1e9) }
                try button.write(value: 0)
            }
            try control(socket, ["centre-end"])
            guard waitClean(emulator, socket: socket, needSupplementary: false, timeoutMilliseconds: 10_000) else {
                throw failure("alarm #\(trigger.number) did not end cleanly")
            }
            // The simulated button releases 330 ms after the press: the next press must find it up.
            let released = pressedAt + 345_000_000 - SystemTime.monotonicNanoseconds()
            if released > 0 { pause(seconds: Double(released) / 1e9) }
        }
        run.elapsedSeconds = Double(SystemTime.monotonicNanoseconds() - started) / 1e9
        return run
    }

    // MARK: pieces

    /// The journal entry's fields the bench needs (the daemon's `JournalEntry` is internal; its state is public).
    struct JournalEntryView: Decodable {
        var state: DurableState
    }

    static func activeAlarm(in journal: SealedJournal) throws -> ActiveAlarm? {
        guard let entry = try journal.latest().entry else { return nil }
        let view = try JSONDecoder().decode(JournalEntryView.self, from: Data(entry))
        if case .alarm(let alarm) = view.state.mode { return alarm }
        return nil
    }

    static func nanoseconds(_ instant: Instant) -> Int64 {
        let (seconds, attoseconds) = instant.sinceOrigin.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    func control(_ socket: String, _ arguments: [String]) throws {
        let response = try ControlClient(socketPath: socket).request(ControlRequest(command: "sim", arguments: arguments))
        guard response.ok else { throw BenchFailure("sim \(arguments.joined(separator: " ")) refused: \(response.error ?? "")") }
    }

    func status(_ socket: String) -> RuntimeStatus? {
        try? ControlClient(socketPath: socket).request(ControlRequest(command: "status"), timeoutMilliseconds: 2000).status
    }

    /// The daemon's recent timeline (a watch replays its history first), for a failure's message.
    func recentRecords(_ socket: String) -> [String] {
        guard let client = try? ControlClient(socketPath: socket), (try? client.startWatching()) != nil else { return ["(no watch)"] }
        var records: [String] = []
        while let record = try? client.nextRecord(timeoutMilliseconds: 200) { records.append("\(record.at) \(record.category.rawValue): \(record.text)") }
        return Array(records.suffix(30))
    }

    func waitRegistered(_ daemon: ChildProcess, socket: String) -> Bool {
        let deadline = WaitLimit(milliseconds: 20_000)
        while !deadline.hasExpired {
            if let status = status(socket), status.registration == "home" || status.registration == "roaming" { return true }
            if (try? daemon.wait(timeoutMilliseconds: 0)) ?? nil != nil { return false }
            pause(seconds: 0.002)
        }
        return false
    }

    /// Both sides at rest: the daemon idle without a call, the emulator without calls and its AT channel free (and,
    /// after start-up, the supplementary-service set-up done and nothing more following it for 300 ms).
    func waitClean(_ emulator: EmulatorChild, socket: String, needSupplementary: Bool, timeoutMilliseconds: Int) -> Bool {
        let deadline = WaitLimit(milliseconds: timeoutMilliseconds)
        while !deadline.hasExpired {
            if let status = status(socket), status.mode == "idle", status.call == nil,
               let modem = emulator.status(), modem["calls"] == "0", modem["busy"] == "no",
               !needSupplementary || (Int(modem["supplementary"] ?? "") ?? 0) > 0 {
                guard needSupplementary else { return true }
                pause(seconds: 0.3)
                if emulator.status()?["busy"] == "no" { return true }
            }
            pause(seconds: 0.002)
        }
        return false
    }

    func writeBoard(_ name: String, link: String, storage: String, socket: String, fsyncDelay: String?,
                    button: String = "sim:") throws -> String {
        let slowStorage = fsyncDelay.map { "storage: { fsyncDelay: \"\($0)\" }, " } ?? ""
        let text = """
            // Generated by alarm-bench (daemon time to alarm).
            { name: "bench-daemon-\(name)", kind: "simulator", device: { id: "BE-BENCH-D" }, silence: "no-speaker",
              roles: { button: "\(button)", position: "sim:route", modem: "serial:\(link)?baud=115200&profile=quectel-ec25",
                       reportLink: "sim:", vibrator: "sim:", power: "sim:" },
              storage: "\(storage)", controlSocket: "\(socket)",
              alarm: { triggerHold: "\(Self.hold)", centreNumbers: ["+3292000101"], callbackWindow: "0s" },
              simulation: { \(slowStorage)route: { waypoints: [[51.05430, 3.71740], [51.05480, 3.72010]], speed: 0, accuracy: 6, noFixFor: "0s" } } }
            """
        try StorageDirectory(path: work).replaceAtomically("\(name).json5", with: Array(text.utf8))
        return "\(work)/\(name).json5"
    }


}

/// The out-of-process `modem-emulator`: control commands on its stdin, its stamped transcript read from its stdout.
final class EmulatorChild {
    let process: ChildProcess
    private let input: FileDescriptor
    private let output: FileDescriptor
    private var buffer: [UInt8] = []
    /// Stamped transcript lines read so far (`<ns> <line>`), oldest first, since the last `clearTranscript`.
    private var transcript: [(at: Int64, line: String)] = []
    /// The last output lines, for a failure's message.
    private(set) var recent: [String] = []

    init(_ path: String, _ arguments: [String], stderrLog: String) throws {
        let stdinPipe = try PosixPipe.open()
        let stdoutPipe = try PosixPipe.open()
        let log = try FileDescriptor.open(stderrLog, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        defer {
            _ = try? log.close()
            _ = try? stdinPipe.reader.close()
            _ = try? stdoutPipe.writer.close()
        }
        do {
            process = try ChildProcess.spawn(path, arguments, stdin: stdinPipe.reader, stdout: stdoutPipe.writer, stderr: log)
        } catch {
            _ = try? stdinPipe.writer.close()
            _ = try? stdoutPipe.reader.close()
            throw error
        }
        input = stdinPipe.writer
        output = stdoutPipe.reader
    }

    func stop() {
        _ = process.stop(graceMilliseconds: 2000)
        _ = try? input.close()
        _ = try? output.close()
    }

    func send(_ line: String) { _ = try? input.writeAll(Array((line + "\n").utf8), timeoutMilliseconds: 2000) }

    /// The next output line, or nil after the timeout (stamped transcript lines are also kept in `transcript`).
    func nextLine(timeoutMilliseconds: Int) -> String? {
        let deadline = WaitLimit(milliseconds: timeoutMilliseconds)
        while true {
            if let end = buffer.firstIndex(of: 0x0A) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...end)
                recent.append(text)
                if recent.count > 40 { recent.removeFirst() }
                if let space = text.firstIndex(of: " "), let at = Int64(text[..<space]) {
                    transcript.append((at, String(text[text.index(after: space)...])))
                }
                return text
            }
            // Polled at least once, so a zero timeout still takes what is already in the pipe.
            let ready = (try? output.poll(events: Int16(POLLIN), timeoutMilliseconds: Int32(clamping: deadline.remainingMilliseconds))) ?? 0
            if ready == 0 {
                if deadline.hasExpired { return nil }
                continue
            }
            guard let bytes = try? output.read(upTo: 65536), !bytes.isEmpty else { return nil }
            buffer += bytes
        }
    }

    func waitFor(_ predicate: (String) -> Bool, timeoutMilliseconds: Int) -> String? {
        let deadline = WaitLimit(milliseconds: timeoutMilliseconds)
        while !deadline.hasExpired {
            guard let line = nextLine(timeoutMilliseconds: max(1, deadline.remainingMilliseconds)) else { return nil }
            if predicate(line) { return line }
        }
        return nil
    }

    func clearTranscript() {
        while nextLine(timeoutMilliseconds: 0) != nil {}
        transcript.removeAll()
    }

    /// The first stamped transcript line (since `clearTranscript`) matching `predicate`, waiting for it.
    func waitStamped(_ predicate: (String) -> Bool, timeoutMilliseconds: Int) -> (at: Int64, line: String)? {
        let deadline = WaitLimit(milliseconds: timeoutMilliseconds)
        while true {
            if let hit = transcript.first(where: { predicate($0.line) }) { return hit }
            if deadline.hasExpired { return nil }
            _ = nextLine(timeoutMilliseconds: max(1, deadline.remainingMilliseconds))
        }
    }

    /// The emulator's `status` line as key=value pairs.
    func status() -> [String: String]? {
        send("status")
        guard let line = waitFor({ $0.hasPrefix("status ") }, timeoutMilliseconds: 2000) else { return nil }
        var fields: [String: String] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }
}
