import ATModem
import AlarmCore
import AlarmRuntime
import BenchHarness
import Dispatch
import FoundationEssentials
import Glibc
import HAL
import LinuxBackends
import Logging
import ModemEmulator
import PosixIO
import SimBackends
import Synchronization

// The peer of issue 10: the same modem emulator, driven once by a Python prototype on python-gsmmodem-new
// (bench/peer/gsmmodem_prototype.py) and once by our firmware, in the same run. Definitions: docs/performance.md, "Peer".

// MARK: The modem on a pty, its network moved by the bench

/// The modem emulator on a pty for code that runs on real time (the Python peer, our driver on a SystemClock),
/// with its network on a manual clock that the bench moves: the far end answers exactly when the bench says so,
/// and the bench stamps that moment. Both sides talk to the same kind of line through the same front.
final class LiveModemLine: Sendable {
    let clock = ManualClock()
    let emulator: ModemEmulator
    let devicePath: String
    let marks = Marks()
    /// Bytes from the pty, emulator timers and the bench's clock moves all run here, in order.
    private let queue = DispatchQueue(label: "peer-modem")
    private let connection: StreamConnection

    static let alertAfter: Duration = .milliseconds(300)
    static let answerAfter: Duration = .seconds(2)

    init() throws {
        let marks = self.marks
        var settings = EmulatorSettings()
        settings.alertAfter = Self.alertAfter
        settings.answerAfter = Self.answerAfter
        let emulator = ModemEmulator(clock: clock, settings: settings) { marks.saw($0) }
        self.emulator = emulator
        let pty = try PseudoTerminal.open()
        devicePath = pty.devicePath
        connection = StreamConnection(descriptor: pty.controller, queue: queue, onBytes: { emulator.receive($0) }, onClose: { _ in })
        let connection = self.connection
        emulator.attach { try? connection.send($0) }
        connection.start()
        // The modem has booted (and said RDY) before anyone opens the port.
        queue.sync { clock.advance(by: .seconds(1)) }
    }

    deinit { connection.close() }

    /// The dialled call starts alerting at the far end (runs after the emulator took the ATD line).
    func farEndAlerts() {
        queue.sync { clock.advance(by: Self.alertAfter) }
    }

    /// The far end picks up; returns the moment it did.
    func farEndAnswers() -> Int64 {
        queue.sync {
            let at = SystemTime.monotonicNanoseconds()
            clock.advance(by: Self.answerAfter)
            return at
        }
    }
}

// MARK: Our driver on real time

/// Our AT driver on a SystemClock (so it polls +CLCC in real time, as on the device) over a `LiveModemLine`.
final class LiveDriver: Sendable {
    let line: LiveModemLine
    let port: SerialModemPort
    let driver: ATModemDriver

    init(profile: ModemProfile = .quectelEC25) throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let line = try LiveModemLine()
        self.line = line
        let clock = SystemClock()
        port = SerialModemPort(settings: .init(path: line.devicePath), clock: clock, logger: logger)
        let port = self.port
        driver = ATModemDriver(profile: profile, clock: clock, logger: logger, write: { port.write($0) })
        let driver = self.driver
        let marks = line.marks
        try driver.start { status in if status.registration.isRegistered { marks.event("registered") } }
        try driver.start { event in
            switch event {
            case .progress(_, .connected): marks.event("connected")
            case .progress(_, .ended): marks.event("ended")
            default: break
            }
        }
        port.connect(bytes: { driver.receive($0) }, opened: { driver.portOpened() }, closed: { driver.portClosed() })
        port.open()
        guard marks.wait(for: "registered") != nil else { throw BenchFailure("our driver never got the modem ready") }
    }

    deinit { port.close() }

    func waitIdle() {
        let done = DispatchSemaphore(value: 0)
        driver.engine.whenIdle { done.signal() }
        _ = done.wait(timeout: .now() + 5)
    }

    /// One call: dial → ATD at the emulator, the far end answers after `answerDelay` → our connected event.
    /// Returns (dial latency, detection latency) in ns.
    func call(answerDelay: Duration) throws -> (dial: Int64, detect: Int64) {
        line.marks.reset()
        let start = SystemTime.monotonicNanoseconds()
        driver.dial(.outgoing(1), number: "+3292000101")
        guard let atd = line.marks.wait(for: "ATD") else { throw BenchFailure("no ATD from our driver") }
        line.farEndAlerts()
        sleepFor(answerDelay)
        let answered = line.farEndAnswers()
        guard let connected = line.marks.wait(for: "connected") else { throw BenchFailure("our driver never saw the answer") }
        driver.perform(.hangUp, on: .outgoing(1))
        guard line.marks.wait(for: "ended") != nil else { throw BenchFailure("our call never ended") }
        waitIdle()
        return (atd - start, connected - answered)
    }
}

func sleepFor(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}

/// Answer moments spread evenly over a poll period (the slower side's, 500 ms, when both are compared), so the
/// far end answers at a random phase of every poll loop, as a real callee does.
struct AnswerDelays {
    var spreadMilliseconds: Int64 = 500
    private var generator = SystemRandomNumberGenerator()
    init(spreadMilliseconds: Int64 = 500) { self.spreadMilliseconds = spreadMilliseconds }
    mutating func next() -> Duration { .milliseconds(Int64.random(in: 0..<spreadMilliseconds, using: &generator)) }
}

// MARK: Child processes, line by line

/// A child whose stdout (or stderr) is read line by line, each line stamped when it arrives; optionally with a
/// pipe for commands, handed over as an inherited descriptor (ChildProcess sets no stdin).
final class LineChild {
    let process: ChildProcess
    let spawnedAt: Int64
    private let output: FileDescriptor
    private let commands: FileDescriptor?
    private var buffer: [UInt8] = []

    /// `arguments` may contain "{commands-fd}", replaced by the child's end of the command pipe.
    init(_ executable: String, _ arguments: [String], readStderr: Bool = false, withCommands: Bool = false) throws {
        let outputPipe = try Self.pipe()
        var commandPipe: (read: FileDescriptor, write: FileDescriptor)?
        var arguments = arguments
        if withCommands {
            let pipe = try Self.pipe()
            _ = fcntl(pipe.read.rawValue, F_SETFD, 0)  // inherited across exec
            arguments = arguments.map { $0 == "{commands-fd}" ? "\(pipe.read.rawValue)" : $0 }
            commandPipe = pipe
        }
        let devNull = try FileDescriptor.open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { devNull.closeQuietly() }
        spawnedAt = SystemTime.monotonicNanoseconds()
        do {
            process = try ChildProcess.spawn(executable, arguments,
                                             stdout: readStderr ? devNull : outputPipe.write,
                                             stderr: readStderr ? outputPipe.write : devNull)
        } catch {
            outputPipe.read.closeQuietly()
            outputPipe.write.closeQuietly()
            commandPipe?.read.closeQuietly()
            commandPipe?.write.closeQuietly()
            throw error
        }
        outputPipe.write.closeQuietly()
        commandPipe?.read.closeQuietly()
        output = outputPipe.read
        commands = commandPipe?.write
    }

    deinit {
        process.stop(graceMilliseconds: 2000)
        output.closeQuietly()
        commands?.closeQuietly()
    }

    private static func pipe() throws(Errno) -> (read: FileDescriptor, write: FileDescriptor) {
        var ends: [Int32] = [0, 0]
        guard Glibc.pipe(&ends) == 0 else { throw Errno.current }
        // pipe2 is not in the Glibc module; the bench spawns from this thread only, so no other child can
        // inherit the ends between these calls.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
    }

    func send(_ line: String) throws {
        try commands?.writeAll(Array((line + "\n").utf8), timeoutMilliseconds: 5000)
    }

    /// The next line and when it arrived, or nil on end of output or after `timeoutMilliseconds`.
    func nextLine(timeoutMilliseconds: Int = 10_000) -> (text: String, at: Int64)? {
        let deadline = WaitLimit(milliseconds: timeoutMilliseconds)
        while true {
            if let end = buffer.firstIndex(of: 0x0A) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...end)
                return (text, SystemTime.monotonicNanoseconds())
            }
            if deadline.hasExpired { return nil }
            guard let ready = try? output.poll(events: Int16(POLLIN), timeoutMilliseconds: Int32(clamping: deadline.remainingMilliseconds)),
                  ready != 0 else { continue }
            guard let bytes = try? output.read(upTo: 4096), !bytes.isEmpty else { return nil }
            buffer += bytes
        }
    }

    /// Skips lines until one contains `marker`.
    func waitFor(_ marker: String, timeoutMilliseconds: Int = 10_000) -> (text: String, at: Int64)? {
        let deadline = WaitLimit(milliseconds: timeoutMilliseconds)
        while !deadline.hasExpired {
            guard let line = nextLine(timeoutMilliseconds: max(1, deadline.remainingMilliseconds)) else { return nil }
            if line.text.contains(marker) { return line }
        }
        return nil
    }
}

/// A point on the monotonic clock to wait until (PosixIO's own Deadline is internal to it).
struct WaitLimit {
    let end: Int64
    init(milliseconds: Int) { end = SystemTime.monotonicNanoseconds() + Int64(milliseconds) * 1_000_000 }
    var hasExpired: Bool { SystemTime.monotonicNanoseconds() >= end }
    /// Rounded up, so a poll never returns just before the limit and spins.
    var remainingMilliseconds: Int { max(0, Int((end - SystemTime.monotonicNanoseconds() + 999_999) / 1_000_000)) }
}

extension FileDescriptor {
    /// For cleanup paths of pipes and /dev/null, where a close failure loses nothing.
    func closeQuietly() { _ = try? close() }
}

/// One JSON line from the Python peer (bench/peer/gsmmodem_prototype.py).
struct PeerLine: Decodable {
    var event: String
    var t: Int64
    /// The script's first line, and the moment before `connect()`.
    var started: Int64?
    var connect_started: Int64?
    var polls: Bool?
}

extension LineChild {
    /// The next peer line with this event; other events in between are skipped.
    func peerEvent(_ event: String, timeoutMilliseconds: Int = 10_000) -> PeerLine? {
        let deadline = WaitLimit(milliseconds: timeoutMilliseconds)
        while !deadline.hasExpired {
            guard let line = nextLine(timeoutMilliseconds: max(1, deadline.remainingMilliseconds)) else { return nil }
            if let decoded = try? JSONDecoder().decode(PeerLine.self, from: Data(line.text.utf8)), decoded.event == event {
                return decoded
            }
        }
        return nil
    }
}

// MARK: Footprint from /proc, the same way for both processes

enum ProcessFootprint {
    /// Percent of one core used by `pid` over `window`. Thread by thread, read every 100 ms (`ProcessSample.track`):
    /// a sum over whichever threads live at each end goes negative when a worker thread exits in between, and a
    /// reading only at the ends would lose the CPU of a thread that ended.
    static func idleCPUPercent(_ pid: pid_t, window: Duration) -> Double {
        guard let before = ProcessSample.read(pid: pid),
              let after = ProcessSample.track(pid: pid, from: before, seconds: Double(window.milliseconds) / 1000) else { return .nan }
        let delta = ProcessSample.delta(before, after)
        return Double(delta.cpu) / (delta.seconds * 1e9) * 100
    }
}

// MARK: The comparison

/// One row of the side-by-side table.
struct PeerRow: Encodable {
    var measure: String
    var unit: String
    var peer: Double?
    var ours: Double?
    /// peer ÷ ours: above 1 we are better (every row is lower-is-better).
    var ratio: Double? { guard let peer, let ours, ours > 0 else { return nil }; return peer / ours }

    enum CodingKeys: String, CodingKey { case measure, unit, peer, ours, ratio }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(measure, forKey: .measure)
        try container.encode(unit, forKey: .unit)
        try container.encodeIfPresent(peer, forKey: .peer)
        try container.encodeIfPresent(ours, forKey: .ours)
        try container.encodeIfPresent(ratio.map { ($0 * 100).rounded() / 100 }, forKey: .ratio)
    }
}

struct PeerComparison {
    static let python = ".venv/bin/python"
    static let script = "bench/peer/gsmmodem_prototype.py"
    static let number = "+3292000101"
    /// Start-up work (first report, microphone self-test, SIM and network reads) settles before idle is measured, on
    /// both sides alike.
    static let settle: Duration = .seconds(5)
    // The idle window (60 s in a full run) spans our daemon's slowest idle timers (30 s), so a window that falls
    // between two of them cannot show it idle at zero.

    var calls: Int
    var startups: Int
    var idleWindow: Duration
    var rows: [PeerRow] = []
    var notes: [String] = []

    /// Why the peer cannot run here, or nil.
    static func peerMissing() -> String? {
        guard access(python, X_OK) == 0 else { return "\(python) missing (make venv)" }
        guard access(script, R_OK) == 0 else { return "\(script) missing (run from the repository root)" }
        guard let check = try? LineChild(python, ["-c", "import gsmmodem.modem; print('ok')"]),
              check.nextLine(timeoutMilliseconds: 10_000)?.text == "ok" else {
            return "python-gsmmodem-new is not installed in .venv (pip install -r Tests/requirements.txt)"
        }
        return nil
    }

    static func alarmdPath() -> String? {
        let own = ChildProcess.executablePath()
        let directory = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = directory + "/alarmd-sim"
        return access(path, X_OK) == 0 ? path : nil
    }

    static func median(_ values: [Int64]) -> Double { Double(values.sorted()[values.count / 2]) }
}

extension AlarmBench {
    func peerCases(_ harness: inout BenchmarkHarness, iterations: Int, output: String) throws {
        let names = ["peer.gsmmodem.dial-to-ATD", "peer.gsmmodem.answer-to-answered", "peer.gsmmodem.process-start-to-connected",
                     "peer.ours.dial-to-ATD", "peer.ours.answer-to-connected", "peer.ours.process-start-to-modem-ready"]
        if let filter, !names.contains(where: { $0.contains(filter) }) { return }
        var comparison = PeerComparison(calls: max(5, min(30, iterations / 20)), startups: max(3, min(10, iterations / 100)),
                                        idleWindow: .seconds(iterations >= 1000 ? 20 : 3))
        let peerMissing = PeerComparison.peerMissing()
        var peer: (dial: [Int64], detect: [Int64], startup: [Int64], startupInPython: [Int64], cpu: Double, rssKiB: Int)?
        if let peerMissing {
            print("peer: skipped, \(peerMissing)")
            comparison.notes.append("peer skipped: \(peerMissing)")
        } else {
            peer = try comparison.measurePeer()
        }
        let ours = try comparison.measureOurs()

        func addSamples(_ name: String, _ definition: String, _ samples: [Int64]) {
            var iterator = samples.makeIterator()
            harness.run(name, definition: definition, iterations: samples.count) { iterator.next() ?? 0 }
        }
        if let peer {
            addSamples("peer.gsmmodem.dial-to-ATD", "python-gsmmodem-new: dial() called → the emulator has read the whole ATD line", peer.dial)
            addSamples("peer.gsmmodem.answer-to-answered",
                       "python-gsmmodem-new: the far end answers → the library marks the call answered (it polls AT+CLCC)", peer.detect)
            addSamples("peer.gsmmodem.process-start-to-connected",
                       "python-gsmmodem-new: posix_spawn of the prototype → GsmModem.connect() returned", peer.startup)
        }
        addSamples("peer.ours.dial-to-ATD", "ATModemDriver.dial (real-time clock) → the emulator has read the whole ATD line", ours.dial)
        addSamples("peer.ours.answer-to-connected", "the far end answers → our driver emits .connected (real-time +CLCC polls)", ours.detect)
        if !ours.startup.isEmpty {
            addSamples("peer.ours.process-start-to-modem-ready", "posix_spawn of alarmd → its `modem ready` log line arrives", ours.startup)
        }

        func ms(_ ns: Double) -> Double { (ns / 1_000_000 * 1000).rounded() / 1000 }
        comparison.rows = [
            PeerRow(measure: "dial latency, median", unit: "ms", peer: peer.map { ms(PeerComparison.median($0.dial)) },
                    ours: ms(PeerComparison.median(ours.dial))),
            PeerRow(measure: "call-connected detection, median", unit: "ms", peer: peer.map { ms(PeerComparison.median($0.detect)) },
                    ours: ms(PeerComparison.median(ours.detect))),
            PeerRow(measure: "call-connected detection, max", unit: "ms", peer: peer.map { ms(Double($0.detect.max() ?? 0)) },
                    ours: ms(Double(ours.detect.max() ?? 0))),
            PeerRow(measure: "start-up: process start → modem connected, median", unit: "ms",
                    peer: peer.map { ms(PeerComparison.median($0.startup)) },
                    ours: ours.startup.isEmpty ? nil : ms(PeerComparison.median(ours.startup))),
            PeerRow(measure: "idle CPU after connect", unit: "% of one core",
                    peer: peer.map { ($0.cpu * 10_000).rounded() / 10_000 }, ours: ours.cpu.map { ($0 * 10_000).rounded() / 10_000 }),
            PeerRow(measure: "RSS after connect", unit: "MB", peer: peer.map { (Double($0.rssKiB) / 1024 * 10).rounded() / 10 },
                    ours: ours.rssKiB.map { (Double($0) / 1024 * 10).rounded() / 10 }),
        ]
        if let peer {
            comparison.notes.append("peer start-up inside Python (first line of the script → connect() returned), median "
                                    + "\(ms(PeerComparison.median(peer.startupInPython))) ms")
        }
        print(comparison.table)
        try comparison.write(besides: output)
    }
}

extension PeerComparison {
    var table: String {
        func cell(_ value: Double?) -> String {
            let text = value.map { "\($0)" } ?? "—"
            return String(repeating: " ", count: max(0, 12 - text.count)) + text
        }
        func padded(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        var lines = [padded("peer (python-gsmmodem-new) vs ours", 52) + padded("unit", 14) + "        peer        ours   peer÷ours"]
        for row in rows {
            lines.append(padded(row.measure, 52) + padded(row.unit, 14) + cell(row.peer) + cell(row.ours)
                         + cell(row.ratio.map { ($0 * 100).rounded() / 100 }))
        }
        return (lines + notes.map { "  note: \($0)" }).joined(separator: "\n")
    }

    /// bench/peer.json beside the main results: rows in several units, which the harness's µs table does not hold.
    func write(besides output: String) throws {
        struct Document: Encodable { var calls: Int; var startups: Int; var idleWindowSeconds: Int64; var rows: [PeerRow]; var notes: [String] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(Document(calls: calls, startups: startups, idleWindowSeconds: idleWindow.components.seconds,
                                               rows: rows, notes: notes))
        let components = output.split(separator: "/", omittingEmptySubsequences: false)
        let directory = components.count > 1 ? components.dropLast().joined(separator: "/") : "."
        try StorageDirectory(path: directory.isEmpty ? "/" : directory).replaceAtomically("peer.json", with: Array(data) + [0x0A])
    }

    mutating func measurePeer() throws -> (dial: [Int64], detect: [Int64], startup: [Int64], startupInPython: [Int64], cpu: Double, rssKiB: Int) {
        var startup: [Int64] = []
        var inPython: [Int64] = []
        var connectOnly: [Int64] = []
        for _ in 0..<startups {
            let line = try LiveModemLine()
            let child = try LineChild(Self.python, [Self.script, line.devicePath, "115200", "{commands-fd}"], withCommands: true)
            guard let connected = child.peerEvent("connected") else { throw BenchFailure("the peer never connected") }
            startup.append(connected.t - child.spawnedAt)
            if let started = connected.started { inPython.append(connected.t - started) }
            if let started = connected.connect_started { connectOnly.append(connected.t - started) }
            try child.send("quit")
            _ = try? child.process.wait(timeoutMilliseconds: 3000)
        }

        let line = try LiveModemLine()
        let child = try LineChild(Self.python, [Self.script, line.devicePath, "115200", "{commands-fd}"], withCommands: true)
        guard let connected = child.peerEvent("connected") else { throw BenchFailure("the peer never connected") }
        if connected.polls == true {
            notes.append("python-gsmmodem-new found no call-state URCs it knows on this modem: it polls AT+CLCC every 0.5 s")
        }
        sleepFor(Self.settle)
        let rss = ProcessSample.read(pid: child.process.pid)?.residentKiB ?? 0
        let cpu = ProcessFootprint.idleCPUPercent(child.process.pid, window: idleWindow)

        var dial: [Int64] = []
        var detect: [Int64] = []
        var delays = AnswerDelays()
        for _ in 0..<calls {
            line.marks.reset()
            try child.send("dial \(Self.number)")
            guard let called = child.peerEvent("dial-called"), let atd = line.marks.wait(for: "ATD") else {
                throw BenchFailure("the peer's ATD never reached the emulator")
            }
            dial.append(atd - called.t)
            line.farEndAlerts()
            guard child.peerEvent("dialled") != nil else { throw BenchFailure("the peer's dial() never returned") }
            sleepFor(delays.next())
            let answered = line.farEndAnswers()
            guard let seen = child.peerEvent("answered") else { throw BenchFailure("the peer never saw the answer") }
            detect.append(seen.t - answered)
            try child.send("hangup")
            guard child.peerEvent("ended") != nil else { throw BenchFailure("the peer's call never ended") }
        }
        try child.send("quit")
        _ = try? child.process.wait(timeoutMilliseconds: 3000)
        if !connectOnly.isEmpty {
            notes.append("peer connect() alone (its start-up commands on the line), median "
                         + "\((Self.median(connectOnly) / 1000).rounded() / 1000) ms")
        }
        return (dial, detect, startup, inPython, cpu, rss)
    }

    mutating func measureOurs() throws -> (dial: [Int64], detect: [Int64], startup: [Int64], cpu: Double?, rssKiB: Int?) {
        let live = try LiveDriver()
        var dial: [Int64] = []
        var detect: [Int64] = []
        var delays = AnswerDelays()
        for _ in 0..<calls {
            let (d, c) = try live.call(answerDelay: delays.next())
            dial.append(d)
            detect.append(c)
        }

        guard let alarmd = Self.alarmdPath() else {
            print("peer: our start-up, idle CPU and RSS skipped: no alarmd beside alarm-bench (swift build --product alarmd)")
            notes.append("ours: start-up, idle CPU and RSS skipped (no alarmd binary beside alarm-bench)")
            return (dial, detect, [], nil, nil)
        }
        var startup: [Int64] = []
        for _ in 0..<startups {
            let line = try LiveModemLine()
            let (child, directory) = try startAlarmd(alarmd, modem: line.devicePath)
            defer { removeTree(directory) }
            guard let ready = child.waitFor("modem ready") else { throw BenchFailure("alarmd never reported the modem ready") }
            startup.append(ready.at - child.spawnedAt)
            child.process.stop()
        }

        let line = try LiveModemLine()
        let (child, directory) = try startAlarmd(alarmd, modem: line.devicePath)
        defer { removeTree(directory) }
        guard child.waitFor("modem ready") != nil else { throw BenchFailure("alarmd never reported the modem ready") }
        sleepFor(Self.settle)
        let rss = ProcessSample.read(pid: child.process.pid)?.residentKiB
        let cpu = ProcessFootprint.idleCPUPercent(child.process.pid, window: idleWindow)
        child.process.stop()
        return (dial, detect, startup, cpu, rss)
    }

    /// alarmd on a simulator board whose modem is the real driver on `modem` (the same emulator line as the
    /// peer's); the other roles are in-process simulations, so the daemon runs its whole runtime.
    private func startAlarmd(_ path: String, modem: String) throws -> (LineChild, String) {
        var template = Array("/tmp/alarm-bench-peer-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Errno.current }
        let directory = String(cString: made)
        let board = """
            {
              name: "peer-bench", kind: "simulator", device: { id: "BE-BENCH-PEER" }, silence: "no-speaker",
              roles: { button: "sim:", position: "sim:route", modem: "serial:\(modem)?baud=115200&profile=quectel-ec25",
                       reportLink: "sim:", audio: "sim:", vibrator: "sim:", power: "sim:" },
              storage: "\(directory)/state", controlSocket: "\(directory)/alarmd.sock",
              alarm: { centreNumbers: ["\(Self.number)"] },
            }
            """
        try StorageDirectory(path: directory).replaceAtomically("board.json5", with: Array(board.utf8))
        return (try LineChild(path, ["--board", "\(directory)/board.json5", "--log-level", "notice"], readStderr: true), directory)
    }

    private func removeTree(_ directory: String) {
        guard let child = try? ChildProcess.spawn("/bin/rm", ["-rf", directory]) else { return }
        _ = try? child.wait(timeoutMilliseconds: 5000)
    }
}
