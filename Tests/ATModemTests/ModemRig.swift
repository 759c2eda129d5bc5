import AlarmCore
import Dispatch
import ATModem
import HAL
import Logging
import ModemEmulator
import ModemTestSupport
import SimBackends

/// The driver alone on an emulated line, its events collected for assertions.
final class ModemRig: Sendable {
    let line: EmulatedModemLine
    let network: Collector<NetworkStatus>
    let calls: Collector<CallEvent>

    init(profile: ModemProfile = .quectelEC25, configure: (inout EmulatorSettings) -> Void = { _ in },
         driverSettings: ATModemSettings = ATModemSettings(), withPowerLine: Bool = true, logger: Logger? = nil) throws {
        var settings = EmulatorSettings()
        configure(&settings)
        line = try EmulatedModemLine(profile: profile, emulator: settings, driver: driverSettings,
                                     withPowerLine: withPowerLine, logger: logger)
        network = Collector(activity: line.activity)
        calls = Collector(activity: line.activity)
        let network = self.network
        let calls = self.calls
        try line.driver.start { network.append($0) }
        try line.driver.start { calls.append($0) }
    }

    var clock: ManualClock { line.clock }
    var emulator: ModemEmulator { line.emulator }
    var pty: PTYModemEmulator { line.pty }
    var port: SerialModemPort { line.port }
    var driver: ATModemDriver { line.driver }
    var activity: DispatchSemaphore { line.activity }

    func start() throws { try line.openAndWaitUntilReady() }
    func advance(_ duration: Duration, in steps: Duration = .milliseconds(100)) { line.advance(duration, in: steps) }
    @discardableResult func settle(seconds: Double = 5) -> Bool { line.settle(seconds: seconds) }
    func waitFor(seconds: Double = 5, _ condition: @escaping () -> Bool) -> Bool { line.waitFor(seconds: seconds, condition) }

    var lastNetwork: NetworkStatus? { network.all.last }
    var callEvents: [CallEvent] { calls.all }

    func progress(of id: CallID) -> [CallProgress] {
        calls.all.compactMap { if case .progress(id, let p) = $0 { p } else { nil } }
    }
}
