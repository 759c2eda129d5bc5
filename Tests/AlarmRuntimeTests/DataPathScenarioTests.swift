import ATModem
import AlarmCodecs
import AlarmCore
import AlarmRuntime
import Dispatch
import HAL
import LinuxBackends
import Logging
import ModemEmulator
import ModemTestSupport
import PosixIO
import SimBackends
import SimCentre
import Testing

/// The whole data path on real sockets: the AT driver brings up the emulator's context, a veth pair stands in for
/// the modem's network interface (the centre lives in a network namespace behind it), the report link is bound to
/// that interface, and the supervisor judges the path from the modem and the kernel. Time for the core and the
/// modem moves with the manual clock; the kernel's events and TCP are real.
final class NamespacedDevice: Sendable {
    static let centrePort: UInt16 = 7610
    let net: VethNamespace
    let line: EmulatedModemLine
    let centre: SimulatedCentre
    let button: SimButton
    let link: TCPReportLink
    let runtime: DeviceRuntime
    let supervisor: DataSupervisor

    init(_ net: VethNamespace, policy: SimulatedCentre.Policy = .init(), profile: ModemProfile = .generic) throws {
        self.net = net
        var driverSettings = ATModemSettings()
        driverSettings.data = DataCallSettings(apn: "internet.test")
        line = try EmulatedModemLine(profile: profile, driver: driverSettings)
        let activity = line.activity
        centre = try SimulatedCentre(listener: try net.listen(port: Self.centrePort), policy: policy) { _ in activity.signal() }
        let clock = line.clock
        let logger = Logger(label: "namespaced", factory: { _ in SwiftLogNoOpLogHandler() })
        button = SimButton(clock: clock)
        link = TCPReportLink(host: net.centreAddress, port: Self.centrePort, deviceID: "BE-NS-1", clock: clock,
                             logger: logger, connectTimeout: .seconds(2), unansweredLimit: .seconds(10),
                             acceptsCommands: true, interface: net.deviceInterface)
        var alarm = AlarmSettings()
        alarm.centreNumbers = ["+3292000101"]
        alarm.smsFallbackNumber = "+3292000199"
        let driver = line.driver
        var backends = Backends(button: button,
                                position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72), (51.06, 3.73)])),
                                network: driver, calls: driver, sms: driver, reportLink: link, store: InMemoryRecordStore())
        backends.alarmAwareModem = driver
        let runtime = DeviceRuntime(machine: AlarmMachine(settings: alarm), identity: .init(deviceID: "BE-NS-1", boardName: "veth"),
                                    clock: clock, backends: backends, silence: .noSpeaker, logger: logger)
        self.runtime = runtime
        let link = self.link
        supervisor = DataSupervisor(interface: net.deviceInterface, dataDuringCalls: .lteAndUMTS, logger: logger,
                                    verdict: { path, detail in runtime.dataPathChanged(path, detail: detail) },
                                    interfaceLost: { link.pathLost() })
        _ = runtime.addObserver { _ in activity.signal() }
        // The emulated network carries packets only while its context is up and not held for a call: the
        // namespace's end of the veth follows it, so the device's interface loses carrier exactly then.
        line.emulator.setDataPlane { carrying in try? net.setCentreLink(up: carrying) }
    }

    func start() throws {
        centre.start()
        try runtime.start()
        supervisor.start(modem: line.driver)
        try line.openAndWaitUntilReady()
    }

    func stop() {
        supervisor.stop()
        centre.stop()
        line.close()
    }

    var emulator: ModemEmulator { line.emulator }
    var dataPath: String { runtime.status.dataPath }
    func advance(_ duration: Duration, step: Duration = .milliseconds(250)) { line.advance(duration, in: step) }
    func waitFor(seconds: Double = 5, _ condition: @escaping () -> Bool) -> Bool { line.waitFor(seconds: seconds, condition) }

    /// Fallback SMS as the emulated network received them, as (kind, sequence).
    var sms: [(kind: String, sequence: Int)] {
        emulator.submittedSMS.compactMap { message in
            var fields: [String: String] = [:]
            for part in message.text.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
            }
            guard let kind = fields["kind"], let sequence = fields["seq"].flatMap({ Int($0) }) else { return nil }
            return (kind, sequence)
        }
    }

    /// Sequences the centre acknowledged, per report kind.
    func acknowledged(_ kind: ReportKind) -> [Int] {
        centre.received.filter { $0.frame.report.kind == kind && $0.answer.hasPrefix("ACK") && !$0.duplicate }
            .map(\.frame.report.sequence)
    }
}

@Suite(.serialized, .enabled(if: VethNamespace.available, "needs root and iproute2 for a network namespace (CI runs as root)"))
struct DataPathScenarioTests {
    @Test func reportsTravelOverTheModemInterfaceAndSurviveItsLoss() throws {
        let net = try VethNamespace.make().get()
        defer { net.remove() }
        var policy = SimulatedCentre.Policy()
        policy.ignoreFirst = 1  // the alarm frame goes unanswered: the interface dies "mid-report"
        // VoLTE (the Quectel profile switches IMS on): the call stays on LTE and leaves data alone.
        let d = try NamespacedDevice(net, policy: policy, profile: .quectelEC25)
        defer { d.stop() }
        try d.start()
        #expect(d.waitFor { d.dataPath.hasPrefix("up") }, "data path: \(d.dataPath)")

        d.button.press(holding: .milliseconds(2500))
        d.advance(.milliseconds(2600))
        #expect(d.waitFor { d.centre.received.contains { $0.frame.report.kind == .alarm } })
        let alarmSequence = try #require(d.centre.received.first { $0.frame.report.kind == .alarm }?.frame.report.sequence)
        #expect(d.acknowledged(.alarm).isEmpty)

        // The modem's interface goes away before the centre answers.
        try net.setDeviceLink(up: false)
        #expect(d.waitFor { d.dataPath.hasPrefix("down") }, "data path: \(d.dataPath)")
        d.advance(.seconds(1))
        #expect(d.waitFor { d.sms.contains { $0.kind == "alarm" } })
        #expect(d.sms.filter { $0.kind == "alarm" }.map(\.sequence) == [alarmSequence])

        // Back: the alarm goes again over IP with the same sequence; the centre counts it once.
        try net.setDeviceLink(up: true)
        #expect(d.waitFor { d.dataPath.hasPrefix("up") }, "data path: \(d.dataPath)")
        d.advance(.seconds(1))
        #expect(d.waitFor { d.acknowledged(.alarm) == [alarmSequence] })
        // Updates flow over IP again, and nothing that must arrive is left waiting.
        d.advance(.seconds(21))
        #expect(d.waitFor { !d.acknowledged(.positionUpdate).isEmpty })
        // The centre's ACK reaches the core through the link's queue and the event loop: wait for it, under load too.
        #expect(d.waitFor { !d.runtime.coreState.outbox.values.contains { $0.report.kind == .alarm } })
        #expect(d.centre.received.allSatisfy { $0.frame.report.kind != .alarm || $0.frame.report.sequence == alarmSequence })
    }

    @Test func callOn2GWithoutIMSHoldsDataAndPositionsGoBySMSUntilTheCallEnds() throws {
        let net = try VethNamespace.make().get()
        defer { net.remove() }
        let d = try NamespacedDevice(net)
        defer { d.stop() }
        try d.start()
        #expect(d.waitFor { d.dataPath.hasPrefix("up") }, "data path: \(d.dataPath)")

        d.button.press(holding: .milliseconds(2500))
        d.advance(.seconds(3))
        // The dial itself falls back to 2G and holds data: the alarm frame may or may not beat it onto the wire;
        // either way the alarm reaches the centre (over IP, or by SMS at once when data is held first).
        #expect(d.waitFor { !d.acknowledged(.alarm).isEmpty || d.sms.contains { $0.kind == "alarm" } })
        // The centre answers: without IMS the call falls back to 2G, and data is held for it.
        d.advance(.seconds(3))
        #expect(d.waitFor { d.runtime.status.call?.connected == true })
        #expect(d.waitFor { d.dataPath.hasPrefix("suspended") }, "data path: \(d.dataPath)")
        #expect(d.emulator.dataSuspended)

        let smsBefore = d.sms.count
        d.advance(.seconds(185), step: .milliseconds(500))
        let positions = d.sms.dropFirst(smsBefore).filter { $0.kind == "position-update" }
        #expect((3...4).contains(positions.count), "one position SMS a minute over ~3 minutes, got \(positions.count)")
        #expect(Set(positions.map(\.sequence)).count == positions.count)

        // The centre hangs up: back on LTE, data flows and updates go over IP again.
        let updatesBefore = d.acknowledged(.positionUpdate).count
        d.emulator.remoteHangUp()
        #expect(d.waitFor { d.dataPath.hasPrefix("up") }, "data path: \(d.dataPath)")
        d.advance(.seconds(11))
        #expect(d.waitFor { d.acknowledged(.positionUpdate).count > updatesBefore })
        let smsAfterCall = d.sms.count
        d.advance(.seconds(70), step: .milliseconds(500))
        #expect(d.sms.count == smsAfterCall, "no position SMS while IP works")
    }
}
