import AlarmCodecs
import AlarmCore
import AlarmRuntime
import BenchHarness
import DC09
import Glibc
import HAL
import LinuxBackends
import Logging
import PosixIO
import SecureStore
import SimBackends
import SimCentre

/// Cost growth: time to alarm must not grow with the journal's length or with a backlog of position updates.
/// Every alarm here is a fresh device with the device's own persistence (a sealed file journal on disk, fsync'd)
/// and the real DC-09 link to our loopback receiver; each alarm stamps both the dial and the first frame.
struct GrowthBench {
    var iterations: Int
    let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
    let work = "/tmp/alarm-bench-growth-\(getpid())"
    static let journalEntries = 10_000
    static let queuedUpdates = 1_000

    enum Load: String, CaseIterable {
        case baseline, journal10k = "journal-10k", queued1k = "queued-updates-1k"
    }

    static func names(_ load: Load) -> [String] { ["growth.trigger-to-dial.\(load.rawValue)", "growth.trigger-to-first-frame.\(load.rawValue)"] }

    func run(_ harness: inout BenchmarkHarness) throws {
        let loads = Load.allCases.filter { Self.names($0).contains(where: harness.wants) }
        guard !loads.isEmpty else { return }
        let root = try StorageDirectory(path: work)
        defer { _ = try? ChildProcess.spawn("/bin/rm", ["-rf", work]).wait(timeoutMilliseconds: 10_000) }
        let key = try StorageKey.load(path: root.filePath("storage.key"), createIfMissing: true)
        let dc09Key = try DC09Key(text: "0123456789ABCDEF", encoding: .asciiHex)
        let receiver = try DC09Receiver(accounts: ["B1": dc09Key])
        receiver.start()
        defer { receiver.stop() }
        let template = try journalTemplate(root, key: key)

        for load in loads {
            var dials: [Double] = []
            var frames: [Double] = []
            var stuck = 0
            for iteration in 0..<iterations {
                // A directory per device: the journal writes of the one before may still be landing in its own.
                let device = try StorageDirectory(path: "\(work)/\(load.rawValue)-\(iteration)")
                if load == .journal10k, link(template, device.filePath("journal")) != 0 {
                    throw BenchFailure("cannot link the journal template: errno \(errno)")
                }
                let (dial, frame) = try alarm(journal: SealedJournal(sealing: FileJournal(directory: device), with: key),
                                              receiverPort: receiver.tcpPort, dc09Key: dc09Key, queued: load == .queued1k)
                dials.append(Double(dial) / 1000)
                if let frame { frames.append(Double(frame) / 1000) } else { stuck += 1 }
            }
            let setting = switch load {
            case .baseline: "an empty journal, no backlog"
            case .journal10k: "a journal of \(Self.journalEntries) entries (\(mb(template)) MB) left by an earlier life"
            case .queued1k: "\(Self.queuedUpdates) position updates handed to the DC-09 link just before the trigger"
            }
            let note = switch load {
            case .baseline: "the trigger step appends one entry to the journal (O_APPEND + fsync on \(work), ext4 here) before its effects run"
            case .journal10k: "the trigger step finds the journal past its 64 KiB compaction size and replaces it with one entry "
                + "(write, fsync, rename) before its effects run: one entry's cost, whatever the length"
            case .queued1k: "the link keeps one frame in flight and only the newest position update waiting (a newer one "
                + "supersedes it), and an alarm frame goes before a waiting update, so only the frame in flight is ahead of the alarm"
            }
            harness.record(Self.names(load)[0],
                           definition: "in-process part: hold timer fires → VoiceCalls.dial entered, with \(setting)",
                           unit: "µs", samples: dials, goal: .described("no growth: beside growth.trigger-to-dial.baseline"), note: note)
            harness.record(Self.names(load)[1],
                           definition: "in-process part: hold timer fires → the first DC-09 frame of the alarm written to the TCP socket, with \(setting)",
                           unit: "µs", samples: frames, goal: .described("no growth: beside growth.trigger-to-first-frame.baseline"),
                           note: note + (stuck == 0 ? "" : "; \(stuck) of \(iterations) alarm frames did NOT leave within 5 s "
                                         + "(left out of the figures: the frame waited for a retry the manual clock never ran)"))
        }
    }

    /// One alarm on a fresh device: (trigger → dial entered, trigger → first alarm frame in the socket), ns.
    /// The frame is nil when it did not leave within 5 s (on the manual clock no retry ever comes).
    func alarm(journal: any JournalStore, receiverPort: UInt16, dc09Key: DC09Key, queued: Bool) throws -> (Int64, Int64?) {
        let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: SystemTime.wallMilliseconds()))
        let marks = StampProbe()
        let account = DC09Account(receiver: "1", prefix: "1", account: "B1")
        var settings = DC09LinkSettings(endpoints: [DC09Endpoint(.tcp, host: "127.0.0.1", port: receiverPort)],
                                        composer: DC09Composer(account: account, format: .siaDCS, deviceID: "BENCH"), key: dc09Key)
        settings.supervisionInterval = nil
        // The queued updates carry sequences from 5000 on: the alarm's own frame is the one below.
        settings.frameWritten = { sequence in if sequence < 5000 { marks.stamp("frame") } }
        let link = DC09ReportLink(settings: settings, clock: clock, logger: logger)
        defer { link.stop() }
        let dialled = DialProbe()
        let modem = ProbedModem(inner: SimModem(clock: clock), probe: dialled)
        var alarmSettings = AlarmSettings()
        alarmSettings.centreNumbers = ["+3292000101"]
        var backends = Backends(button: SimButton(clock: clock),
                                position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                network: modem, calls: modem, sms: modem, reportLink: link, store: InMemoryRecordStore())
        backends.journal = journal
        let runtime = DeviceRuntime(machine: AlarmMachine(settings: alarmSettings),
                                    identity: .init(deviceID: "BENCH", boardName: "bench"), clock: clock,
                                    backends: backends, silence: .noSpeaker, logger: logger)
        try runtime.start()
        guard dialled.at == 0 else { throw BenchFailure("the journal template resumed an alarm") }
        if queued {
            // Position updates of an earlier alarm still on their way (sequences the core does not know: their ACKs
            // are ignored), each further than its accuracy from the last, so none is a repeat.
            for n in 0..<Self.queuedUpdates {
                let fix = Fix(latitude: 51.05 + Double(n) * 0.001, longitude: 3.72, horizontalAccuracy: 5, fixTime: clock.wallTime())
                link.send(Report(sequence: 5000 + n, kind: .positionUpdate, alarmNumber: 99, position: fix, positionAge: .zero,
                                 previousPositions: [], cell: nil))
            }
        }
        runtime.post(.button(.pressed))
        clock.advance(by: .milliseconds(1999))
        let start = SystemTime.monotonicNanoseconds()
        clock.advance(by: .milliseconds(1))
        let frame = marks.wait(for: "frame")
        // Dead before the next device takes the directory: no late ACK may write this one's journal there.
        runtime.stopForPowerLoss()
        return (dialled.at - start, frame.map { $0 - start })
    }

    /// A journal of `journalEntries` copies of a real idle-state entry (sealed with the device's key), built once; each
    /// alarm gets it through a hard link, which compaction replaces by rename, so the template is never written.
    func journalTemplate(_ root: StorageDirectory, key: StorageKey) throws -> String {
        let maker = try StorageDirectory(path: "\(work)/template-maker")
        let clock = ManualClock()
        let modem = SimModem(clock: clock)
        var backends = Backends(button: SimButton(clock: clock),
                                position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                network: modem, calls: modem, sms: modem, reportLink: SimReportLink(clock: clock),
                                store: InMemoryRecordStore())
        backends.journal = SealedJournal(sealing: FileJournal(directory: maker), with: key)
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3292000101"]
        let runtime = DeviceRuntime(machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BENCH", boardName: "bench"),
                                    clock: clock, backends: backends, silence: .noSpeaker, logger: logger)
        try runtime.start()
        // An alarm, ended by the centre, then hours later: idle again with the counters of a used device.
        runtime.post(.button(.pressed))
        clock.advance(by: .seconds(2))
        runtime.post(.centre(.endAlarm))
        for _ in 0..<180 { clock.advance(by: .seconds(60)) }
        runtime.stopForPowerLoss()
        guard runtime.status.mode == "idle", let frame = try maker.read("journal"), !frame.isEmpty else {
            throw BenchFailure("could not make an idle journal entry (mode \(runtime.status.mode))")
        }
        // The file now holds exactly one framed entry (the settled state compacts the journal to it).
        var content: [UInt8] = []
        content.reserveCapacity(frame.count * Self.journalEntries)
        for _ in 0..<Self.journalEntries { content += frame }
        try root.replaceAtomically("journal-template", with: content)
        return root.filePath("journal-template")
    }

    func mb(_ path: String) -> Double {
        var info = stat()
        return stat(path, &info) == 0 ? BenchmarkHarness.rounded(BenchmarkHarness.megabytes(bytes: Int(info.st_size))) : 0
    }
}
