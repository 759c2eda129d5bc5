import ATModem
import AlarmCore
import AlarmRuntime
import Dispatch
import HAL
import Logging
import ModemEmulator
import ModemTestSupport
import SimBackends
import Testing

/// The runtime on the simulated world with the real AT driver talking to the byte-level emulator over a
/// real pty. Time moves with the manual clock; the test waits for the AT line to go quiet, never sleeps.
final class EmulatedDevice: Sendable {
    let line: EmulatedModemLine
    let button: SimButton
    let link: SimReportLink
    let runtime: DeviceRuntime

    init(configure: (inout EmulatorSettings) -> Void = { _ in }) throws {
        var settings = EmulatorSettings()
        configure(&settings)
        line = try EmulatedModemLine(emulator: settings)
        let clock = line.clock
        let driver = line.driver
        let emulator = line.emulator
        button = SimButton(clock: clock)
        link = SimReportLink(clock: clock, dataAvailable: { emulator.registration.isRegistered })
        var alarm = AlarmSettings()
        alarm.centreNumbers = ["+3292000101", "+3292000102"]
        var backends = Backends(button: button,
                                position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                network: driver, calls: driver, sms: driver, reportLink: link, store: InMemoryRecordStore())
        backends.alarmAwareModem = driver
        runtime = DeviceRuntime(machine: AlarmMachine(settings: alarm), identity: .init(deviceID: "BE-EMU-1", boardName: "emu"),
                                clock: clock, backends: backends, silence: .noSpeaker,
                                logger: Logger(label: "emulated", factory: { _ in SwiftLogNoOpLogHandler() }))
        let activity = line.activity
        _ = runtime.addObserver { _ in activity.signal() }
    }

    var emulator: ModemEmulator { line.emulator }
    var driver: ATModemDriver { line.driver }

    func start() throws {
        try runtime.start()
        try line.openAndWaitUntilReady()
    }

    func advance(_ duration: Duration, step: Duration = .milliseconds(100)) { line.advance(duration, in: step) }
    func waitFor(seconds: Double = 5, _ condition: @escaping () -> Bool) -> Bool { line.waitFor(seconds: seconds, condition) }
}

@Suite struct EmulatedModemScenarioTests {
    @Test func alarmCallsTheCentreThroughTheATDriver() throws {
        let d = try EmulatedDevice()
        try d.start()
        d.button.press(holding: .milliseconds(2500))
        d.advance(.milliseconds(2500))
        #expect(d.emulator.dialledNumbers == ["+3292000101"])
        #expect(!d.emulator.callWaitingEnabled)  // alarm mode: no second caller may knock
        d.advance(.seconds(3))
        #expect(d.runtime.status.call?.connected == true)
        #expect(d.runtime.status.delivered == true)
        // The aggressor calls: turned away by the network, the centre line stays.
        d.emulator.ring(from: "+32470666666")
        #expect(d.emulator.callersTurnedAwayByNetwork == 1)
        #expect(d.emulator.activeCallCount == 1)
        #expect(d.emulator.microphoneMuteViolations == 0)
    }

    @Test func modemHangDuringAlarmIsRecoveredAndTheCentreRedialled() throws {
        let d = try EmulatedDevice()
        try d.start()
        d.button.press(holding: .milliseconds(2500))
        d.advance(.seconds(6))
        #expect(d.runtime.status.call?.connected == true)
        d.emulator.hang()
        // The driver's polls go unanswered: after three timeouts it re-initialises, then power-cycles.
        d.advance(.seconds(90), step: .milliseconds(500))
        #expect(d.waitFor { d.driver.phase == .ready })
        d.advance(.seconds(10))
        #expect(d.emulator.dialledNumbers.count >= 2)
        #expect(d.runtime.status.call?.connected == true)
        #expect(d.runtime.status.mode == "alarm")
    }

    @Test func unregisteredAtTriggerThenRegisteredTwentySecondsLater() throws {
        let d = try EmulatedDevice { $0.registration = .searching; $0.emergencyCallsPossible = false }
        try d.start()
        d.button.press(holding: .milliseconds(2500))
        d.advance(.seconds(20), step: .milliseconds(250))
        #expect(d.link.received.isEmpty)
        #expect(d.runtime.status.call?.connected != true)
        d.emulator.setRegistration(.home)
        d.advance(.seconds(5))
        #expect(d.runtime.status.call?.connected == true)
        #expect(d.link.received.first?.kind == .alarm)
    }
}

@Suite struct OverloadTests {
    /// A modem (or a line) that floods: 10,000 URCs and 64 KB of noise. The decoder keeps at most one line
    /// (1,024 bytes) buffered, the driver's state stays one entry per call, and the alarm still goes out.
    @Test func urcFloodAndNoiseDoNotStopTheAlarm() throws {
        let d = try EmulatedDevice()
        try d.start()
        var flood: [UInt8] = []
        for n in 0..<10_000 { flood += Array("\r\n+CREG: 1,\"03E9\",\"\(String(n, radix: 16))\",7\r\n".utf8) }
        var noise = [UInt8](repeating: 0, count: 65_536)
        var seed: UInt32 = 7
        for i in noise.indices {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            noise[i] = UInt8(truncatingIfNeeded: seed >> 24)
        }
        d.emulator.injectGarbage(flood + noise + Array("\r\n".utf8))
        d.advance(.seconds(2))
        d.button.press(holding: .milliseconds(2500))
        d.advance(.seconds(6))
        #expect(d.emulator.dialledNumbers == ["+3292000101"])
        #expect(d.waitFor { d.runtime.status.call?.connected == true })
    }
}
