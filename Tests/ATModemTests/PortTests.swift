import ModemTestSupport
import AlarmCore
import ATModem
import Glibc
import HAL
import Logging
import ModemEmulator
import SimBackends
import Testing

@Suite struct PortTests {
    /// A USB modem that re-enumerates takes its tty away and brings it back: the driver reports the modem
    /// down, keeps trying to reopen, and comes back ready on the new node behind the same path.
    @Test func portThatDisappearsIsReopenedWhenItComesBack() throws {
        let clock = ManualClock()
        let link = "/tmp/alarm-modem-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tty"
        let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
        let activity = Collector<String>()
        let first = try PTYModemEmulator(emulator: ModemEmulator(clock: clock) { activity.append($0) }, link: link)
        let port = SerialModemPort(settings: .init(path: link), clock: clock, logger: logger)
        let driver = ATModemDriver(profile: .quectelEC25, clock: clock, logger: logger, write: { port.write($0) })
        let network = Collector<NetworkStatus>()
        try driver.start { network.append($0) }
        try driver.start { (_: CallEvent) in }
        port.connect(bytes: { driver.receive($0) }, opened: { driver.portOpened() }, closed: { driver.portClosed() })
        defer { port.close() }
        clock.advance(by: .seconds(1))  // boot before the port opens
        port.open()
        #expect(network.waitUntil { $0.last?.registration == .home })

        first.close()  // the node disappears
        #expect(network.waitUntil { $0.last?.registration == .unknown })
        #expect(driver.phase == .down)
        clock.advance(by: .seconds(5))  // reopen attempts fail: nothing there

        let second = try PTYModemEmulator(emulator: ModemEmulator(clock: clock) { activity.append($0) }, link: link)
        defer { second.close() }
        let before = network.all.count
        // Reopen attempts back off up to 10 s apart: within 12 s of virtual time one must find the new node.
        var waited = Duration.zero
        while !(network.waitUntil(seconds: 0.5) { $0.count > before && $0.last?.registration == .home }), waited < .seconds(12) {
            clock.advance(by: .seconds(1))
            waited += .seconds(1)
        }
        #expect(network.all.count > before && network.all.last?.registration == .home)
        #expect(driver.phase == .ready)
    }
}
