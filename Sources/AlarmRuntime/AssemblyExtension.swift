import ATModem
import AlarmCore
import HAL
import Logging

/// A backend that an extension of the assembly supplies for a role the device build has none for.
public enum ExtraBackend: Sendable {
    case modem(AssembledModem)
    case button(any ButtonInput)
    case position(any PositionSourceDevice)
    case reportLink(any ReportLink)
    case audio(any AudioCapture)
    case vibrator(any Vibrator)
    case power(any PowerMonitor)
    case outputLine(any OutputLine)
}

/// What the assembly knows when it asks an extension for a backend.
public struct AssemblyContext: Sendable {
    public var clock: any Clock
    public var logger: Logger
    /// The modem role's backend, once assembled (the simulated report link follows the simulated network).
    public var modem: AssembledModem?
}

/// Hooks an extension adds around the runtime: run after it starts, and at stop.
public struct AssemblyHooks: Sendable {
    public var afterStart: [@Sendable () -> Void] = []
    public var teardown: [@Sendable () -> Void] = []
    public init(afterStart: [@Sendable () -> Void] = [], teardown: [@Sendable () -> Void] = []) {
        self.afterStart = afterStart
        self.teardown = teardown
    }
}

/// Everything beyond real hardware enters the assembly through here: developer and HIL builds pass
/// AlarmSimulation's implementation (simulated backends, the modem emulator, slow storage, the Modbus test port).
/// The device build passes none and links none, so a board that asks for a simulator finds nothing to build it
/// from — not a flag that could be flipped, but code that is not in the binary.
public protocol AssemblyExtension: Sendable {
    /// A backend for `uri` in `role`, or nil when the extension has none for it either.
    func backend(for role: Role, _ uri: PortURI, board: Board, context: AssemblyContext) throws(BoardError) -> ExtraBackend?
    /// Wraps the backends before the runtime is built around them (slow storage, indicator mirrors).
    func decorate(_ backends: inout Backends, board: Board, clock: any Clock)
    /// Ports that talk to the running device (the test port).
    func attach(runtime: DeviceRuntime, board: Board, modemDriver: ATModemDriver?, clock: any Clock,
                logger: Logger) throws(BoardError) -> AssemblyHooks
}
