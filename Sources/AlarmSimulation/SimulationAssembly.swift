import ATModem
import AlarmCore
import AlarmRuntime
import HAL
import Logging
import ModemEmulator
import PosixIO
import SimBackends
import Synchronization

/// The simulated backends of a running device, reachable through the control socket
/// (`alarmctl sim …`). Roles served by real backends are nil here.
public struct SimWorld: Sendable {
    public var button: SimButton?
    public var modem: SimModem?
    public var position: SimPositionSource?
    public var reportLink: SimReportLink?
    public var audio: SimAudio?
    public var vibrator: SimVibrator?
    public var power: SimPower?
    public var amplifierEnable: SimOutputLine?
    /// The byte-level modem emulator behind `pty:sim`.
    public var emulator: ModemEmulator?
    public init() {}
}

/// A device assembled by a developer or HIL build: the device, the simulators it runs on, and its test port.
public struct SimulatedDevice: Sendable {
    public var device: AssembledDevice
    public var simulation: SimWorld
    /// The HIL test port, when the board enables one.
    public var testPort: TestPort?

    public var runtime: DeviceRuntime { device.runtime }
    public var modemDriver: ATModemDriver? { device.modemDriver }
    public func start() throws(HALError) { try device.start() }
    public func stop() { device.stop() }
}

/// The developer and HIL builds' extension of the device assembly: `sim:` backends, the byte-level modem emulator
/// (`pty:sim`), slow storage (`simulation.storage.fsyncDelay`) and the Modbus test port.
public final class SimulationAssembly: AssemblyExtension {
    struct Built {
        var world = SimWorld()
        var mirrors: (vibrator: MirroredVibrator?, amplifier: MirroredOutputLine?, button: MirroredButton)?
        var testPort: TestPort?
    }
    private let built = Mutex(Built())

    public init() {}

    public var world: SimWorld { built.withLock { $0.world } }
    public var testPort: TestPort? { built.withLock { $0.testPort } }

    /// Assembles `board` with every simulator available (what `alarmd-sim`, the tools and the tests run).
    public static func assemble(_ board: Board, clock: any Clock, logger: Logger,
                                store: (any RecordStore)? = nil, journal: (any JournalStore)? = nil,
                                eventLoop: DeviceRuntime.EventLoop = .callerThread) throws(BoardError) -> SimulatedDevice {
        let simulation = SimulationAssembly()
        let device = try DeviceAssembly.assemble(board, clock: clock, logger: logger, store: store, journal: journal,
                                                 eventLoop: eventLoop, extension: simulation)
        return SimulatedDevice(device: device, simulation: simulation.world, testPort: simulation.testPort)
    }

    public func backend(for role: Role, _ uri: PortURI, board: Board,
                        context: AssemblyContext) throws(BoardError) -> ExtraBackend? {
        let clock = context.clock
        if role == .modem, uri.scheme == "pty", uri.target == "sim" {
            return .modem(try emulatedModem(board, uri, context: context))
        }
        guard uri.scheme == "sim" else { return nil }
        switch role {
        case .modem:
            if board.data != nil {
                throw BoardError(file: board.file, key: "data", problem: "a data connection needs an AT modem (\"pty:sim\" or \"serial:…\"), not \"sim:\"")
            }
            _ = try DeviceAssembly.modemProfile(board, uri)
            let modem = SimModem(clock: clock, settings: board.simulation.modemSettings)
            built.withLock { $0.world.modem = modem }
            return .modem(AssembledModem(network: modem, calls: modem, sms: modem, alarmAware: nil, driver: nil,
                                         dataAvailable: { modem.network.registration.isRegistered }))
        case .button:
            let button = SimButton(clock: clock)
            built.withLock { $0.world.button = button }
            return .button(button)
        case .position:
            let source = SimPositionSource(clock: clock, route: board.simulation.route.simRoute)
            built.withLock { $0.world.position = source }
            return .position(source)
        case .reportLink:
            var dataAvailable: @Sendable () -> Bool = { true }
            if let modem = context.modem { dataAvailable = modem.dataAvailable }
            let link = SimReportLink(clock: clock, dataAvailable: dataAvailable)
            built.withLock { $0.world.reportLink = link }
            return .reportLink(link)
        case .audio:
            let audio = SimAudio(clock: clock, framePeriod: board.defaultCapturePeriod)
            built.withLock { $0.world.audio = audio }
            return .audio(audio)
        case .vibrator:
            let vibrator = SimVibrator()
            built.withLock { $0.world.vibrator = vibrator }
            return .vibrator(vibrator)
        case .power:
            let power = SimPower()
            built.withLock { $0.world.power = power }
            return .power(power)
        case .amplifierEnable:
            let line = SimOutputLine()
            built.withLock { $0.world.amplifierEnable = line }
            return .outputLine(line)
        case .voiceOut, .modemPower, .modemReset:
            return nil
        }
    }

    /// The byte-level emulator on a real pty, driven by the real AT driver.
    func emulatedModem(_ board: Board, _ uri: PortURI, context: AssemblyContext) throws(BoardError) -> AssembledModem {
        func problem(_ text: String) -> BoardError { BoardError(file: board.file, key: "roles.modem", problem: text) }
        guard board.kind != .device else { throw problem("the modem emulator is not allowed on a board of kind \"device\"") }
        let profile = try DeviceAssembly.modemProfile(board, uri)
        let dataCall = try DeviceAssembly.dataCall(board)
        let logger = context.logger
        let emulator = ModemEmulator(clock: context.clock, settings: board.simulation.emulatorSettings) { line in
            let shown = line.hasPrefix("→ AT+CPIN=") ? "→ AT+CPIN=<PIN>" : line
            logger.trace("modem emulator", metadata: ["at": "\(shown)"])
        }
        let pty: PTYModemEmulator
        do {
            pty = try PTYModemEmulator(emulator: emulator)
        } catch {
            throw problem("cannot open a pseudo-terminal for the modem emulator: \(error)")
        }
        built.withLock { $0.world.emulator = emulator }
        var settings = ATModemSettings()
        settings.data = dataCall
        settings.usbAudio = board.roles[.voiceOut] != nil
        var modem = DeviceAssembly.attachDriver(profile: profile, settings: .init(path: pty.devicePath), driverSettings: settings,
                                                clock: context.clock, logger: logger,
                                                powerLine: EmulatorPowerLine(emulator: emulator),
                                                dataAvailable: { emulator.registration.isRegistered })
        modem.teardown.append { pty.close() }
        return modem
    }

    public func decorate(_ backends: inout Backends, board: Board, clock: any Clock) {
        if board.simulation.journalFsyncDelay > .zero, let journal = backends.journal {
            backends.journal = SlowJournal(wrapping: journal, delay: board.simulation.journalFsyncDelay)
        }
        // With a test port the indicators and the button are watched on their way through (docs/hil.md).
        guard board.testPort != nil else { return }
        let mirrors = (vibrator: backends.vibrator.map { MirroredVibrator($0, clock: clock) },
                       amplifier: backends.amplifierEnable.map { MirroredOutputLine($0) },
                       button: MirroredButton(backends.button))
        built.withLock { $0.mirrors = mirrors }
        backends.button = mirrors.button
        if let vibrator = mirrors.vibrator { backends.vibrator = vibrator }
        if let amplifier = mirrors.amplifier { backends.amplifierEnable = amplifier }
    }

    public func attach(runtime: DeviceRuntime, board: Board, modemDriver: ATModemDriver?, clock: any Clock,
                       logger: Logger) throws(BoardError) -> AssemblyHooks {
        guard let settings = board.testPort, let mirrors = built.withLock({ $0.mirrors }) else { return AssemblyHooks() }
        do {
            let port = try TestPort(settings: settings, runtime: runtime, clock: clock, logger: logger,
                                    vibrator: mirrors.vibrator, amplifier: mirrors.amplifier, button: mirrors.button,
                                    modemRestarts: { modemDriver?.restartCount ?? 0 })
            built.withLock { $0.testPort = port }
            return AssemblyHooks(afterStart: [{ port.start() }], teardown: [{ port.stop() }])
        } catch {
            throw BoardError(file: board.file, key: "testPort.listen", problem: "cannot open the test port: \(error)")
        }
    }
}

extension SimulationSettings {
    /// The high-level simulated modem on this board's network.
    public var modemSettings: SimModemSettings {
        var settings = SimModemSettings()
        settings.registerAfter = registerAfter
        settings.answerAfter = answerAfter
        settings.network.registration = registration
        settings.network.signal = signal
        return settings
    }

    /// The same network for the byte-level emulator (`modem: "pty:sim"`).
    public var emulatorSettings: EmulatorSettings {
        var settings = EmulatorSettings()
        settings.registration = registration
        settings.signal = signal
        settings.answerAfter = answerAfter
        settings.bootTime = registerAfter
        return settings
    }
}

extension SimulatedRoute {
    var simRoute: SimRoute {
        var route = SimRoute(waypoints: waypoints)
        route.speed = speed
        route.accuracy = accuracy
        route.noFixFor = noFixFor
        route.idleInterval = idleInterval
        route.alarmInterval = alarmInterval
        return route
    }
}
