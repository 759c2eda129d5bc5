import AlarmCore
import ATModem
import Dispatch
import HAL
import Logging
import ModemEmulator
import PosixIO
import SimBackends
import Synchronization

/// The AT driver on a real pseudo-terminal against the byte-level emulator. Time (timeouts, call
/// progress, polls) moves only when the test advances the manual clock; bytes cross the kernel for real,
/// so the test waits for the AT conversation to settle (with a deadline) instead of sleeping.
final class ModemRig: Sendable {
    let clock = ManualClock()
    let emulator: ModemEmulator
    let pty: PTYModemEmulator
    let port: SerialModemPort
    let driver: ATModemDriver
    let network: Collector<NetworkStatus>
    let calls: Collector<CallEvent>
    /// Signalled whenever anything happens: a line in the emulator's transcript, a driver event.
    let activity = DispatchSemaphore(value: 0)

    init(profile: ModemProfile = .quectelEC25, configure: (inout EmulatorSettings) -> Void = { _ in },
         driverSettings: ATModemSettings = ATModemSettings(), withPowerLine: Bool = true) throws {
        var settings = EmulatorSettings()
        configure(&settings)
        var logger = Logger(label: "modem-test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let activity = self.activity
        network = Collector(activity: activity)
        calls = Collector(activity: activity)
        emulator = ModemEmulator(clock: clock, settings: settings, transcript: { _ in activity.signal() })
        pty = try PTYModemEmulator(emulator: emulator, afterInput: { activity.signal() })
        port = SerialModemPort(settings: .init(path: pty.devicePath), clock: clock, logger: logger)
        let port = self.port
        let emulator = self.emulator
        driver = ATModemDriver(profile: profile, clock: clock, logger: logger, settings: driverSettings,
                               powerLine: withPowerLine ? EmulatorPowerLine(emulator: emulator) : nil,
                               write: { port.write($0) })
        let driver = self.driver
        let network = self.network
        let calls = self.calls
        try driver.start { network.append($0) }
        try driver.start { calls.append($0) }
        port.connect(bytes: { driver.receive($0) }, opened: { driver.portOpened() }, closed: { driver.portClosed() })
        port.observeReads { activity.signal() }
    }

    deinit {
        port.close()
        pty.close()
    }

    /// Opens the port while the modem boots (the driver's first probe goes unanswered, as on a real power-up),
    /// then lets RDY, the probe retry and the start-up sequence run to "ready".
    func start() throws {
        port.open()
        advance(.milliseconds(300))
        advance(.seconds(1))
        guard waitFor({ self.driver.phase == .ready }) else { throw RigFailure("driver never became ready") }
    }

    /// Advances the clock, then waits until the AT conversation the timers started has finished.
    func advance(_ duration: Duration, in steps: Duration = .milliseconds(100)) {
        var left = duration
        while left > .zero {
            let step = min(steps, left)
            clock.advance(by: step)
            settle()
            left -= step
        }
    }

    /// Waits (bounded) until the AT conversation can go no further without the clock: every byte either side
    /// wrote has been read and handled by the other, and the engine has carried out all it decided (a command
    /// still in flight then waits for a timer — a hung modem, a scripted delay).
    @discardableResult
    func settle(seconds: Double = 5) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            // Quiet line and nothing left to do: the next step belongs to the clock (or nothing is going on).
            if lineIsQuiet && driver.engine.hasNoPendingActions { return true }
            if activity.wait(timeout: deadline) == .timedOut { return false }
        }
    }

    var lineIsQuiet: Bool {
        let (written, read) = port.byteCounts
        let (received, sent) = pty.byteCounts
        return received >= written && read >= sent
    }

    /// Waits until `condition` holds, re-checking whenever the emulator or the driver does something;
    /// for conditions that follow from bytes already on their way.
    func waitFor(seconds: Double = 5, _ condition: @escaping () -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            settle(seconds: 0.5)
            if condition() { return true }
            if activity.wait(timeout: deadline) == .timedOut { return condition() }
        }
    }

    var lastNetwork: NetworkStatus? { network.all.last }
    var callEvents: [CallEvent] { calls.all }

    func progress(of id: CallID) -> [CallProgress] {
        calls.all.compactMap { if case .progress(id, let p) = $0 { p } else { nil } }
    }
}

struct RigFailure: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}

/// Values delivered on other threads; `waitUntil` blocks until a condition holds or a deadline passes.
final class Collector<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    private let signal = DispatchSemaphore(value: 0)
    private let activity: DispatchSemaphore?

    init(activity: DispatchSemaphore? = nil) { self.activity = activity }

    func append(_ value: Value) {
        values.withLock { $0.append(value) }
        signal.signal()
        activity?.signal()
    }

    var all: [Value] { values.withLock { $0 } }

    @discardableResult
    func waitUntil(seconds: Double = 5, _ condition: ([Value]) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            if condition(all) { return true }
            if signal.wait(timeout: deadline) == .timedOut { return condition(all) }
        }
    }
}
