import AlarmCodecs
import AlarmCore
import AlarmRuntime
import CentreSMS
import Glibc
import PosixIO
import SimCentre
import Synchronization

/// Runs the real daemon on the simulated world (the `modem-emulator` executable out of process on a pty, scripted
/// position, our DC-09 receiver in this process), raises alarms and kills the daemon with SIGKILL at chosen moments —
/// at the trigger, while the centre call is dialling, alerting or connected (at least a third of the kills land on a
/// connected centre call), after a report left, or after a random delay — then starts it again against the same
/// emulator, which keeps its calls as a real modem does. Checks, at the centre, on the daemon's timeline and in the
/// emulator: every alarm raised arrives; no alarm is counted twice; after every restart an active alarm resumes; a
/// centre call the modem still lists is adopted (no ATD while it lasts), else a call attempt follows; the device
/// never ends the centre's call (no ATH/AT+CHUP with a call up, no release of the centre call) while the alarm is on;
/// an aggressor calling repeatedly during the connected call leaves it up.
public final class KillSoak {
    public struct Configuration: Sendable {
        public var seed: UInt64
        public var kills: Int
        /// The alarmd executable.
        public var daemon: String
        /// The modem-emulator executable (by default beside alarmd).
        public var emulator: String
        /// A fresh directory for the board, storage, socket, logs and the emulator's link and transcript.
        public var workDirectory: String
        /// The emulated network refuses to switch call waiting off, so the aggressor's calls reach the device as
        /// waiting calls; otherwise the driver switches it off and the network turns the aggressor away.
        public var callWaitingFixed: Bool
        /// Seconds until the centre answers (dialling ≈ 0.3 s, alerting this long).
        public var answerAfter: Double = 1
        /// Bound on every wait; a wait that runs out is a violation, not a hang.
        public var waitMilliseconds: Int32 = 20_000

        public init(seed: UInt64, kills: Int, daemon: String, emulator: String? = nil, workDirectory: String,
                    callWaitingFixed: Bool? = nil) {
            self.seed = seed
            self.kills = kills
            self.daemon = daemon
            self.emulator = emulator ?? (daemon.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                .joined(separator: "/") + "/modem-emulator")
            self.workDirectory = workDirectory
            // Without a choice, the seed picks (a failing seed replays the same network).
            self.callWaitingFixed = callWaitingFixed ?? (seed & 1 == 1)
        }
    }

    public struct Outcome: Sendable {
        public var kills = 0
        /// Where each kill landed, as the emulator listed the centre call right after it.
        public var killsWhileDialling = 0
        public var killsWhileAlerting = 0
        public var killsWhileConnected = 0
        public var killsWithoutCall = 0
        /// Restarts that found the centre call and adopted it.
        public var adoptions = 0
        /// Aggressor calls made while the centre call was connected: how many reached the device as waiting calls,
        /// how many the network turned away (call waiting off).
        public var aggressorCallsWaiting = 0
        public var aggressorCallsTurnedAway = 0
        public var callWaitingFixed = false
        public var seconds = 0.0
        public var alarmsRaised: [Int] = []
        public var alarmsAtCentre: [Int] = []
        public var violations: [String] = []
        public var seed: UInt64 = 0
        public var summary: String {
            "seed \(seed): \(kills) kills (dialling \(killsWhileDialling), alerting \(killsWhileAlerting), connected \(killsWhileConnected), "
                + "no call \(killsWithoutCall)), \(adoptions) calls adopted, aggressor calls \(aggressorCallsWaiting) waiting + "
                + "\(aggressorCallsTurnedAway) turned away (call waiting \(callWaitingFixed ? "fixed on" : "switchable")), "
                + "\(Set(alarmsRaised).count) alarms raised, \(alarmsAtCentre.count) at the centre once each, \(Int(seconds)) s, "
                + (violations.isEmpty ? "no violations" : "\(violations.count) violation(s): " + violations.prefix(5).joined(separator: "; "))
        }
    }

    final class Centre: Sendable {
        let frames = Mutex<[DC09Receiver.Received]>([])
    }

    enum CallPhase: Int, Comparable {
        case none, dialling, alerting, connected
        static func < (a: CallPhase, b: CallPhase) -> Bool { a.rawValue < b.rawValue }
    }

    /// The centre call the modem listed at a kill: while it lasts, the emulator's ATD count must not move.
    struct TrackedCall {
        var index: Int
        var dialled: Int
    }

    static let centreNumber = "+3292000101"
    static let aggressor = "+32470666666"

    let configuration: Configuration
    var random: SoakRandom
    var outcome = Outcome()
    let centre = Centre()
    var daemon: ChildProcess?
    var emulator: SoakEmulator?
    var watcher: ControlClient?
    var counter = UInt64(time(nil)) * 1000
    /// Facts from the current daemon's records read so far.
    var modemReady = false
    var adoptedSinceStart = false
    var dialledSinceStart = false
    var phase = CallPhase.none
    /// The emulator's state as last read.
    var endedSeen = 0
    var hangUpAllSeen = 0
    var muteViolationsSeen = 0
    var tracked: TrackedCall?
    /// The alarm is being ended: the device may now hang up the centre's call.
    var alarmEnding = false

    public init(_ configuration: Configuration) {
        var configuration = configuration
        if !configuration.workDirectory.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                configuration.workDirectory = cwd + "/" + configuration.workDirectory
            }
        }
        self.configuration = configuration
        random = SoakRandom(seed: configuration.seed)
        outcome.seed = configuration.seed
        outcome.callWaitingFixed = configuration.callWaitingFixed
    }

    var boardPath: String { configuration.workDirectory + "/soak.json5" }
    var socketPath: String { configuration.workDirectory + "/alarmd.sock" }
    var storagePath: String { configuration.workDirectory + "/state" }
    var linkPath: String { configuration.workDirectory + "/modem.tty" }
    var transcriptPath: String { configuration.workDirectory + "/modem-transcript.log" }

    public func run() throws -> Outcome {
        let started = SystemTime.monotonicNanoseconds()
        let centre = self.centre
        let receiver = try DC09Receiver(accounts: ["50A": nil]) { received in centre.frames.withLock { $0.append(received) } }
        receiver.start()
        defer {
            receiver.stop()
            stopDaemon()
            emulator?.stop()
            emulator = nil
        }
        _ = try StorageDirectory(path: configuration.workDirectory)
        try StorageDirectory(path: configuration.workDirectory).replaceAtomically("soak.json5", with: Array(board(port: receiver.tcpPort).utf8))
        unlink(linkPath)
        let emulator = try SoakEmulator(executable: configuration.emulator, link: linkPath, answerAfter: configuration.answerAfter,
                                        callWaitingFixed: configuration.callWaitingFixed, transcriptPath: transcriptPath)
        self.emulator = emulator
        // The first answer comes once the pty and its link exist.
        guard emulator.request(nil) != nil else { throw SoakFailure("modem-emulator did not answer; see \(transcriptPath)") }

        var active: Int?
        try startDaemon()
        while outcome.kills < configuration.kills {
            if active == nil {
                if !modemReady, wait("the modem to be ready", { $0.category == .network && $0.text.hasPrefix("modem ready") }) == nil { break }
                try simulator(["press", "0.4s"])
                if random.next() % 4 == 0 {
                    // Die around the trigger itself (the hold ends at 300 ms): while the journal is being written.
                    pause(milliseconds: Int32(random.next() % 500))
                    try killAndRestart(active: &active, atTrigger: true)
                    continue
                }
                guard let raised = wait("the alarm to be raised", { $0.category == .trigger && $0.text.contains("raised") }) else { break }
                active = Self.alarmNumber(in: raised.text)
                if let active { outcome.alarmsRaised.append(active) }
            }
            // Where to die. A call that is connected already (adopted after the last restart) is killed again while
            // connected; otherwise while dialling, alerting, connected, after a report left, or somewhere later.
            if phase == .connected {
                pause(milliseconds: Int32(random.next() % 1000))
            } else {
                switch random.next() % 6 {
                case 0: _ = waitPhase(.dialling)
                case 1: _ = waitPhase(.alerting)
                case 2: _ = wait("a report to leave", { $0.category == .report })
                case 3: pause(milliseconds: Int32(random.next() % 1500))
                default:
                    if waitPhase(.connected) { pause(milliseconds: Int32(random.next() % 800)) }
                }
            }
            try killAndRestart(active: &active, atTrigger: false)
            guard let number = active else { continue }
            // While the centre listens, an aggressor calls again and again: the centre's call must stay.
            if phase == .connected, outcome.aggressorCallsWaiting + outcome.aggressorCallsTurnedAway == 0 || random.next() % 2 == 0 {
                aggressorCalls(count: 2 + Int(random.next() % 4))
            }
            // Now and then the centre, having the alarm, ends it, so the next round raises a new one.
            if random.next() % 2 == 0 {
                guard awaitCentre(alarm: number) else {
                    violation("alarm #\(number) never reached the centre")
                    active = nil
                    continue
                }
                alarmEnding = true
                try endAlarm(number)
                if wait("alarm #\(number) to end", { $0.category == .alarmEnd }) == nil {
                    violation("alarm #\(number) did not end on the centre's command")
                }
                // An attempt still being set up is abandoned by the device; a connected call is left to the centre,
                // which hangs up now that the alarm is over.
                if let now = snapshot(), now.calls.contains(where: { $0.outgoing && $0.number == Self.centreNumber && $0.state == 0 }) {
                    _ = emulator.request("hangup")
                }
                if !awaitNoCall("the centre's call to end after alarm #\(number) ended") {
                    violation("a call was still up 20 s after alarm #\(number) ended and the centre hung up")
                }
                alarmEnding = false
                tracked = nil
                active = nil
            }
        }
        _ = snapshot()
        if outcome.killsWhileConnected * 3 < outcome.kills {
            violation("only \(outcome.killsWhileConnected) of \(outcome.kills) kills landed on a connected centre call (at least a third must)")
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
        outcome.seconds = Double(SystemTime.monotonicNanoseconds() - started) / 1e9
        return outcome
    }

    /// SIGKILL, then what the modem still has (where the kill landed), a restart, and the checks after it: the alarm
    /// resumes; a centre call the modem lists is adopted and not dialled over; otherwise a call attempt follows.
    func killAndRestart(active: inout Int?, atTrigger: Bool) throws {
        kill()
        guard let after = snapshot() else {
            violation("the emulator did not answer after the kill")
            try startDaemon()
            return
        }
        let centreCall = after.calls.first { $0.outgoing && $0.number == Self.centreNumber && [0, 2, 3].contains($0.state) }
        switch centreCall?.state {
        case 0?: outcome.killsWhileConnected += 1
        case 3?: outcome.killsWhileAlerting += 1
        case 2?: outcome.killsWhileDialling += 1
        default: outcome.killsWithoutCall += 1
        }
        if let centreCall {
            if let tracked, tracked.index == centreCall.index {
                // The same call, still up: adopted since the last kill, never dialled over (checked in snapshot).
            } else {
                tracked = TrackedCall(index: centreCall.index, dialled: after.status.int("dialled"))
            }
        } else {
            tracked = nil
        }
        try startDaemon()
        if atTrigger {
            // If the trigger made it into the journal, the alarm resumes before the modem is ready.
            let record = wait("the modem to be ready after a kill at the trigger", { record in
                (record.category == .trigger && record.text.contains("resumed"))
                    || (record.category == .network && record.text.hasPrefix("modem ready"))
            })
            if let record, record.category == .trigger, let number = Self.alarmNumber(in: record.text) {
                active = number
                outcome.alarmsRaised.append(number)
            }
        } else if let number = active {
            guard wait("alarm #\(number) to resume", { $0.category == .trigger && $0.text.contains("#\(number) resumed") }) != nil else {
                violation("alarm #\(number) did not resume after restart \(outcome.kills)")
                active = nil
                return
            }
        }
        if let centreCall {
            let state = ["active", "", "dialling", "alerting"][centreCall.state]
            if !adoptedSinceStart, wait("the modem's call to be adopted", { _ in adoptedSinceStart }) == nil {
                violation("the centre call \(centreCall.index) (\(state) at the kill) was not adopted after the restart"
                          + (active.map { " (alarm #\($0))" } ?? " (no alarm in the journal)"))
            } else {
                outcome.adoptions += 1
            }
            _ = snapshot()
        } else if let number = active {
            if !dialledSinceStart, wait("a call attempt after the restart", { $0.category == .dial }) == nil {
                violation("no call attempt for alarm #\(number) after restart \(outcome.kills)")
            }
        }
    }

    /// The aggressor calls `count` times while the centre listens. A call that reaches the device (call waiting on
    /// in the network) must be released on its own; the centre's call stays active and nothing hangs up everything.
    func aggressorCalls(count: Int) {
        for _ in 0..<count {
            guard let answer = emulator?.request("ring \(Self.aggressor)") else {
                violation("the emulator did not answer a ring")
                return
            }
            if answer.contains("ringing") {
                outcome.aggressorCallsWaiting += 1
                if wait("the aggressor's waiting call to be rejected", { $0.category == .incoming && $0.text.hasPrefix("rejected call from") }) == nil {
                    violation("the aggressor's waiting call was not rejected (see \(transcriptPath))")
                }
                if !awaitCalls("the aggressor's waiting call to be released", { calls in !calls.contains { !$0.outgoing } }) {
                    violation("the aggressor's waiting call was still there after \(configuration.waitMilliseconds / 1000) s (see \(transcriptPath))")
                    return
                }
            } else {
                outcome.aggressorCallsTurnedAway += 1
            }
            guard let after = snapshot() else { return }
            let up = after.calls.first { $0.outgoing && $0.number == Self.centreNumber }
            if up?.state != 0 || after.status.int("active") != 1 {
                violation("after an aggressor's call the centre's call is \(up.map { "in state \($0.state)" } ?? "gone") "
                          + "(\(after.status.fields["active"].map { "active=\($0)" } ?? ""))")
                return
            }
        }
    }

    // MARK: The emulator's view

    struct Snapshot {
        var status: EmulatorStatus
        var calls: [EmulatorCall]
        var ended: [EmulatorEndedCall]
    }

    /// Reads the emulator's calls, the calls that ended since the last read, and its counters, and checks them: the
    /// device never ends the centre's call during an alarm, never hangs up everything while a call is up, never
    /// dials while the call it adopted is still listed.
    @discardableResult
    func snapshot() -> Snapshot? {
        guard let emulator else { return nil }
        guard let lines = emulator.request("calls\nended \(endedSeen)"), let last = lines.last,
              let status = EmulatorStatus(line: last) else {
            violation("the emulator did not answer calls/ended/status")
            return nil
        }
        let snapshot = Snapshot(status: status, calls: lines.compactMap(EmulatorCall.init(line:)),
                                ended: lines.compactMap(EmulatorEndedCall.init(line:)))
        endedSeen += snapshot.ended.count
        for ended in snapshot.ended {
            if ended.number == Self.centreNumber, !ended.byNetwork, !alarmEnding {
                violation("the device ended the centre's call \(ended.index) (stat=\(ended.state)) with \(ended.endedBy) during the alarm "
                          + "(see \(transcriptPath))")
            }
            if let tracked, ended.index == tracked.index, ended.number == Self.centreNumber { self.tracked = nil }
        }
        let hangUpAll = status.int("hangupAllWithCalls")
        if hangUpAll > hangUpAllSeen {
            violation("ATH/AT+CHUP sent while a call was up (\(hangUpAll - hangUpAllSeen) more; endedByHangUpAll=\(status.int("endedByHangUpAll")))")
            hangUpAllSeen = hangUpAll
        }
        let mutes = status.int("muteViolations")
        if mutes > muteViolationsSeen {
            violation("AT+CMUT=1 sent (the centre would hear nothing)")
            muteViolationsSeen = mutes
        }
        if let tracked, snapshot.calls.contains(where: { $0.index == tracked.index && $0.number == Self.centreNumber }),
           status.int("dialled") != tracked.dialled {
            violation("ATD sent while the modem's call \(tracked.index) to the centre lasted (dialled \(tracked.dialled) → \(status.int("dialled")))")
            self.tracked?.dialled = status.int("dialled")
        }
        return snapshot
    }

    /// Reads the emulator until its calls satisfy `predicate`, reading the daemon's records between reads.
    func awaitCalls(_ what: String, _ predicate: ([EmulatorCall]) -> Bool) -> Bool {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(configuration.waitMilliseconds) * 1_000_000
        while SystemTime.monotonicNanoseconds() < deadline {
            if let now = snapshot(), predicate(now.calls) { return true }
            pause(milliseconds: 200)
        }
        return false
    }

    func awaitNoCall(_ what: String) -> Bool { awaitCalls(what) { $0.isEmpty } }

    func board(port: UInt16) -> String {
        """
        // Generated by the kill soak: the modem is the modem-emulator process on a pty, through the real AT driver.
        { name: "soak", kind: "simulator", device: { id: "BE-SOAK-1" }, silence: "no-speaker",
          roles: { button: "sim:", position: "sim:route", modem: "serial:\(linkPath)?profile=quectel-ec25", reportLink: "dc09+tcp://127.0.0.1:\(port)" },
          storage: "\(storagePath)", controlSocket: "\(socketPath)",
          alarm: { triggerHold: "300ms", centreNumbers: ["\(Self.centreNumber)"], smsNumber: "+3292000199", trackingInterval: "2s",
                   reportAckTimeout: "2s", smsFallbackAfter: "5s", callSetupTimeout: "10s", redialInitialDelay: "500ms" },
          reporting: { account: "50A", prefix: "1", receiver: "1", encryption: "none" } }
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
        adoptedSinceStart = false
        dialledSinceStart = false
        phase = .none
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
        switch record.category {
        case .network where record.text.hasPrefix("modem ready"): modemReady = true
        case .dial:
            dialledSinceStart = true
            phase = .dialling
        case .call:
            let text = record.text
            if text.hasPrefix("adopted the modem's call") {
                adoptedSinceStart = true
                phase = text.contains("(connected") ? .connected : .dialling
            } else if text.contains(" ended (") {
                phase = .none
            } else if text.contains("ringing at the far end") {
                phase = .alerting
            } else if text.contains(" connected") {
                phase = .connected
            }
        default: break
        }
    }

    /// Waits until the centre call has reached `target` (or gone further), as the daemon's records say.
    func waitPhase(_ target: CallPhase) -> Bool {
        if phase >= target { return true }
        return wait("the centre call to be \(target)", { _ in phase >= target }) != nil
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
        // The modem is out of process: the emulated network delivers the centre's signed SMS.
        guard let answer = emulator?.request("deliver-sms \(Self.centreNumber) \(text)"), answer.contains(where: { $0.hasPrefix("ok") }) else {
            throw SoakFailure("the emulator did not deliver the centre's SMS")
        }
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
