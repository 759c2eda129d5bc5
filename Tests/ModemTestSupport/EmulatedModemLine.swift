import ATModem
import AlarmCore
import Dispatch
import HAL
import Logging
import ModemEmulator
import SimBackends

/// The AT driver on a real pseudo-terminal against the byte-level emulator. Time (timeouts, call progress,
/// polls) moves only when the test advances the manual clock; bytes cross the kernel for real, so tests
/// wait for the line to go quiet (with a deadline) instead of sleeping.
public final class EmulatedModemLine: Sendable {
    public let clock: ManualClock
    public let emulator: ModemEmulator
    public let pty: PTYModemEmulator
    public let port: SerialModemPort
    public let driver: ATModemDriver
    /// Signalled whenever anything happens: a transcript line, bytes read by either side, a driver event
    /// reported through a collector made with it.
    public let activity = DispatchSemaphore(value: 0)

    public init(clock: ManualClock = ManualClock(), profile: ModemProfile = .quectelEC25,
                emulator settings: EmulatorSettings = EmulatorSettings(),
                driver driverSettings: ATModemSettings = ATModemSettings(), withPowerLine: Bool = true,
                logger: Logger? = nil) throws {
        self.clock = clock
        let logger = logger ?? Logger(label: "modem-test", factory: { _ in SwiftLogNoOpLogHandler() })
        let activity = self.activity
        let emulator = ModemEmulator(clock: clock, settings: settings, transcript: { _ in activity.signal() })
        self.emulator = emulator
        pty = try PTYModemEmulator(emulator: emulator, afterInput: { activity.signal() })
        let port = SerialModemPort(settings: .init(path: pty.devicePath), clock: clock, logger: logger)
        self.port = port
        let driver = ATModemDriver(profile: profile, clock: clock, logger: logger, settings: driverSettings,
                                   powerLine: withPowerLine ? EmulatorPowerLine(emulator: emulator) : nil,
                                   write: { port.write($0) })
        self.driver = driver
        port.connect(bytes: { driver.receive($0) }, opened: { driver.portOpened() }, closed: { driver.portClosed() })
        port.observeReads { activity.signal() }
    }

    deinit { close() }

    public func close() {
        port.close()
        pty.close()
    }

    /// Opens the port while the modem boots (the first probe goes unanswered, as on a real power-up), then
    /// lets RDY, the probe retry and the start-up sequence run until the driver is ready.
    public func openAndWaitUntilReady() throws {
        port.open()
        advance(.milliseconds(300))
        advance(.seconds(1))
        guard waitFor({ self.driver.phase == .ready }) else { throw LineFailure("the driver never became ready") }
    }

    /// Advances the clock step by step, letting the AT conversation each step starts run to its end.
    public func advance(_ duration: Duration, in steps: Duration = .milliseconds(100)) {
        var left = duration
        while left > .zero {
            let step = min(steps, left)
            clock.advance(by: step)
            settle()
            left -= step
        }
    }

    /// Waits (bounded) until the conversation can go no further without the clock: every byte either side
    /// wrote has been read and handled by the other, and the engine has carried out all it decided (a command
    /// still in flight then waits for a timer — a hung modem, a scripted delay).
    @discardableResult
    public func settle(seconds: Double = 5) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            if lineIsQuiet && driver.engine.hasNoPendingActions { return true }
            if activity.wait(timeout: deadline) == .timedOut { return false }
        }
    }

    public var lineIsQuiet: Bool {
        let (written, read) = port.byteCounts
        let (received, sent) = pty.byteCounts
        return received >= written && read >= sent
    }

    /// Waits until `condition` holds, re-checking whenever something happens on the line.
    public func waitFor(seconds: Double = 5, _ condition: @escaping () -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            settle(seconds: 0.5)
            if condition() { return true }
            if activity.wait(timeout: deadline) == .timedOut { return condition() }
        }
    }
}

public struct LineFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ text: String) { description = text }
}
