import AlarmCore
import AlarmRuntime
import ArgumentParser
import BenchHarness
import Dispatch
import Glibc
import HAL
import LinuxBackends
import Logging
import PosixIO
import SimBackends
import SimCentre
import Synchronization

/// `make bench`: named cases on the simulated world, figures to bench/results.json.
/// Definitions of every interval are in docs/performance.md.
@main
struct AlarmBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alarm-bench",
                                                    abstract: "Measure the firmware's share of time-to-alarm.")

    @Option(help: "Where to write the JSON results.") var output = "bench/results.json"
    @Option(help: "Iterations per case.") var iterations = 1000
    @Option(help: "Only run cases whose name contains this.") var filter: String?
    // The developer build's idle window is short by default: the device build's rows (footprint.device) are the ones
    // that carry the goals, and `make bench` must stay near 10 minutes.
    @Option(help: "Length of the developer build's idle window for CPU and wakeups, seconds (600 for the issue's 10 minutes).")
    var idleSeconds = 30
    @Option(help: "Warm start-ups of the daemon to time.") var startups = 10
    @Option(help: "The alarmd the footprint cases run (default: the one beside alarm-bench; e.g. .build-release/dist/alarmd, the static binary make release ships).")
    var daemon: String?
    @Option(help: "The device-build alarmd the footprint.device cases run (default: .build-release/dist/alarmd, the static binary make release ships, when it exists; else the one beside alarm-bench).")
    var deviceDaemon: String?
    @Option(help: "Length of the device build's idle window, seconds (footprint.device).") var deviceIdleSeconds = 30
    @Option(help: "Alarms the real daemon raises for its time-to-alarm row (default: 200, or --iterations if fewer); the tmpfs, slow-fsync and FIFO rows a sixth each.")
    var daemonAlarms: Int?

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var harness = BenchmarkHarness(filter: filter)
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

        harness.run("core.step.trigger", definition: "in-process part: AlarmMachine.step for the hold-timer event that raises an alarm",
                    iterations: iterations) {
            var settings = AlarmSettings()
            settings.centreNumbers = ["+3292000101"]
            let machine = AlarmMachine(settings: settings)
            let (pressed, _) = machine.step(AlarmState(), Event(.button(.pressed), at: .origin))
            let start = SystemTime.monotonicNanoseconds()
            let (_, effects) = machine.step(pressed, Event(.timer(.triggerHold), at: .milliseconds(2000)))
            let end = SystemTime.monotonicNanoseconds()
            precondition(!effects.isEmpty)
            return end - start
        }

        try harness.run("runtime.trigger-to-dial-call",
                    definition: "in-process part: hold timer fires → SimModem.dial entered (runtime + core + effect dispatch, in process)",
                    iterations: iterations) {
            let clock = ManualClock()
            let dialled = DialProbe()
            let modem = ProbedModem(inner: SimModem(clock: clock), probe: dialled)
            let backends = Backends(button: SimButton(clock: clock),
                                    position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                    network: modem, calls: modem, sms: modem,
                                    reportLink: SimReportLink(clock: clock), store: InMemoryRecordStore())
            var settings = AlarmSettings()
            settings.centreNumbers = ["+3292000101"]
            let runtime = DeviceRuntime(machine: AlarmMachine(settings: settings),
                                        identity: .init(deviceID: "BENCH", boardName: "bench"), clock: clock,
                                        backends: backends, silence: .noSpeaker, logger: logger)
            try runtime.start()
            runtime.post(.button(.pressed))
            clock.advance(by: .milliseconds(1999))
            let start = SystemTime.monotonicNanoseconds()
            clock.advance(by: .milliseconds(1))
            return dialled.at - start
        }

        let centre = try SimulatedCentre(port: 0)
        centre.start()
        defer { centre.stop() }
        let link = TCPReportLink(host: "127.0.0.1", port: centre.port, deviceID: "BENCH", clock: SystemClock(), logger: logger,
                                 acceptsCommands: false)
        let acks = AckProbe()
        try link.start { event in if case .outcome(let sequence, .acknowledged) = event { acks.acknowledged(sequence) } }
        harness.run("link.report-to-ack-loopback",
                    definition: "in-process part: ReportLink.send called → ACK event back from the simulated centre over loopback TCP",
                    iterations: min(iterations, 500)) {
            let sequence = acks.next()
            let report = Report(sequence: sequence, kind: .alarm, alarmNumber: 1, position: nil, positionAge: nil,
                                previousPositions: [], cell: nil)
            let start = SystemTime.monotonicNanoseconds()
            link.send(report)
            return acks.wait(for: sequence) - start
        }

        try modemCases(&harness, iterations: iterations)
        try fullPathCase(&harness, iterations: iterations)
        let alarms = daemonAlarms ?? min(iterations, 200)
        try DaemonBench(alarms: alarms, tmpfsAlarms: max(1, alarms / 6), daemonOverride: daemon).run(&harness)
        try gpsCase(&harness, iterations: iterations)
        try dc09Cases(&harness, iterations: iterations)
        try resumeCase(&harness, iterations: iterations)
        try audioCases(&harness, iterations: iterations)
        bridgeCases(&harness, iterations: iterations)
        try GrowthBench(iterations: min(iterations, 300)).run(&harness)
        try FootprintBench(idleSeconds: idleSeconds, startups: startups, daemonOverride: daemon).run(&harness)
        try DeviceFootprintBench(idleSeconds: deviceIdleSeconds, daemonOverride: deviceDaemon).run(&harness)
        try peerCases(&harness, iterations: iterations, output: output)

        print(harness.table)
        try harness.write(to: output)
        print("written: \(output)")
    }
}

/// Records when the first dial reached the modem.
final class DialProbe: Sendable {
    private let stamp = Mutex<Int64>(0)
    func hit() { stamp.withLock { if $0 == 0 { $0 = SystemTime.monotonicNanoseconds() } } }
    var at: Int64 { stamp.withLock { $0 } }
}

/// A modem that stamps the moment `dial` is entered, then delegates.
struct ProbedModem: NetworkMonitor, VoiceCalls, SMSSender {
    let inner: SimModem
    let probe: DialProbe
    func start(_ status: @escaping @Sendable (NetworkStatus) -> Void) throws(HALError) { try inner.start(status) }
    func start(_ events: @escaping @Sendable (CallEvent) -> Void) throws(HALError) { try inner.start(events) }
    func dial(_ id: CallID, number: String) {
        probe.hit()
        inner.dial(id, number: number)
    }
    func perform(_ action: CallAction, on id: CallID) { inner.perform(action, on: id) }
    func send(text: String, to number: String, completion: @escaping @Sendable (Result<Void, HALError>) -> Void) {
        inner.send(text: text, to: number, completion: completion)
    }
}

/// Hands out sequences and waits (with a deadline) for their ACK.
final class AckProbe: Sendable {
    private let state = Mutex<(next: Int, acked: [Int: Int64])>((0, [:]))
    private let signal = DispatchSemaphore(value: 0)
    func next() -> Int { state.withLock { $0.next = $0.next % 9999 + 1; return $0.next } }
    func acknowledged(_ sequence: Int) {
        let now = SystemTime.monotonicNanoseconds()
        state.withLock { $0.acked[sequence] = now }
        signal.signal()
    }
    func wait(for sequence: Int) -> Int64 {
        while true {
            if let at = state.withLock({ $0.acked.removeValue(forKey: sequence) }) { return at }
            if signal.wait(timeout: .now() + 5) == .timedOut { return Int64.max / 2 }
        }
    }
}
