import AlarmCore
import AlarmRuntime
import BenchHarness
import Glibc
import HAL
import LinuxBackends
import Logging
import PosixIO
import SecureStore
import SimBackends

extension AlarmBench {
    /// Restart mid-alarm → the resumed alarm's dial: reading and opening the sealed journal from a file, decoding,
    /// the resume step and the dial effect. (Modem boot and registration are the modem's, not measured here.)
    func resumeCase(_ harness: inout BenchmarkHarness, iterations: Int) throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let directory = try StorageDirectory(path: "/tmp/alarm-bench-resume-\(getpid())")
        let key = try StorageKey.load(path: directory.filePath("storage.key"), createIfMissing: true)
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3292000101"]

        func device(_ clock: ManualClock, _ probe: DialProbe) throws -> DeviceRuntime {
            let modem = ProbedModem(inner: SimModem(clock: clock), probe: probe)
            var backends = Backends(button: SimButton(clock: clock),
                                    position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                    network: modem, calls: modem, sms: modem, reportLink: SimReportLink(clock: clock),
                                    store: InMemoryRecordStore())
            backends.journal = SealedJournal(sealing: FileJournal(directory: directory), with: key)
            return DeviceRuntime(machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BENCH", boardName: "bench"),
                                 clock: clock, backends: backends, silence: .noSpeaker, logger: logger)
        }

        try harness.run("journal.restart-to-resumed-dial",
                        definition: "in-process part: a new runtime's start() is called over a journal holding an active alarm → VoiceCalls.dial for that alarm",
                        iterations: iterations, goal: .atMost(1_000_000, of: .max, "resume ≤ 1 s (issue 7)"),
                        limit: .described("no bytes on a line: reading the journal from storage (an SD card's read time is "
                                          + "not measurable here; /tmp on this machine's disk)")) {
            try? directory.remove("journal")
            let clock = ManualClock()
            let first = try device(clock, DialProbe())
            try first.start()
            first.post(.button(.pressed))
            clock.advance(by: .seconds(2))
            first.stopForPowerLoss()
            let probe = DialProbe()
            let second = try device(clock, probe)
            let start = SystemTime.monotonicNanoseconds()
            try second.start()
            return probe.at - start
        }
    }
}
