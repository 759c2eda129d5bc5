import AlarmRuntime
import ArgumentParser
import Dispatch
import Glibc
import HAL
import LinuxBackends
import Logging

/// The daemon's options, the same in both builds.
public struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "Board file (JSON5) naming a backend per role and the alarm settings.")
    public var board: String

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical. Positions appear only at debug and below.")
    public var logLevel: String = "info"

    @Option(name: .long, help: "The operator's public key that signs provisioning bundles (installed read-only by make install).")
    public var operatorKey: String = ProvisionedBoard.defaultOperatorKeyPath

    @Flag(name: .long, help: "Check the board file against this machine (devices, gpsd, audio, key files, directories) and exit; non-zero if a check fails.")
    public var check = false

    public init() {}
}

/// What differs between the device build (`alarmd`) and the developer/HIL build (`alarmd-sim`): which boards it
/// runs and what it can assemble them from.
public struct DaemonBuild: Sendable {
    /// Why this build does not run `board`, in one line; nil: it does.
    public var refusal: @Sendable (Board) -> String?
    /// The device, and the simulator commands when the build has simulators.
    public var assemble: @Sendable (Board, any Clock, Logger) throws(BoardError) -> (AssembledDevice, (any SimulationCommands)?)

    public init(refusal: @escaping @Sendable (Board) -> String?,
                assemble: @escaping @Sendable (Board, any Clock, Logger) throws(BoardError) -> (AssembledDevice, (any SimulationCommands)?)) {
        self.refusal = refusal
        self.assemble = assemble
    }

    /// The device build: device boards only, real backends only.
    public static let device = DaemonBuild(
        refusal: { board in
            board.kind == .device ? nil
                : "\(board.file) is a \"\(board.kind.rawValue)\" board: this alarmd is the device build and runs device boards only (simulator and HIL boards run under alarmd-sim, the developer build)"
        },
        assemble: { (board, clock, logger) throws(BoardError) in
            (try DeviceAssembly.assemble(board, clock: clock, logger: logger, eventLoop: .dedicated), nil)
        })
}

/// The alarm daemon: reads a board file, builds the backends it names, and runs the alarm.
public enum Daemon {
    public static func run(_ options: DaemonOptions, build: DaemonBuild) throws {
        let board = options.board, logLevel = options.logLevel, check = options.check
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(logLevel)\"")
        }
        let handlerLevel = level
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: handlerLevel) }
        let logger = Logger(label: "alarmd")

        let parsed: Board
        do {
            parsed = try ProvisionedBoard.load(path: board, operatorKeyPath: options.operatorKey)
        } catch {
            logger.critical("invalid board file: \(error)")
            throw ExitCode(2)
        }
        if let refusal = build.refusal(parsed) {
            logger.critical("\(refusal)")
            throw ExitCode(2)
        }
        if check {
            try BoardCheckReport.run(parsed, file: board)
            return
        }

        // A daemon writing into a closed socket must get EPIPE, not die.
        signal(SIGPIPE, SIG_IGN)
        let clock = SystemClock()
        let device: AssembledDevice
        let simulation: (any SimulationCommands)?
        do {
            (device, simulation) = try build.assemble(parsed, clock, logger)
        } catch {
            logger.critical("cannot build the device: \(error)")
            throw ExitCode(2)
        }
        let control: ControlServer
        do {
            control = try ControlServer(path: parsed.controlSocketPath, runtime: device.runtime,
                                        simulation: simulation, logger: logger)
        } catch {
            logger.critical("cannot open the control socket \(parsed.controlSocketPath): \(error)")
            throw ExitCode(2)
        }
        do {
            try device.start()
        } catch {
            logger.critical("cannot start: \(error)")
            control.stop()
            throw ExitCode(2)
        }
        control.start()
        // systemd (Type=notify): ready only now, and the watchdog fed from the runtime's own loop.
        let service = ServiceNotifications.fromEnvironment(logger: logger)
        service.ready(runtime: device.runtime, clock: clock, status: "running board \(parsed.name) as \(parsed.deviceID)")

        let stop: @Sendable (Int32) -> Void = { signal in
            logger.notice("stopping on signal \(signal)")
            service.stopping()
            control.stop()
            device.stop()
            device.runtime.closeEvidence()
            device.runtime.flushPersistence()
            Glibc.exit(0)
        }
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler { stop(number) }
            source.resume()
            return source
        }
        withExtendedLifetime(signals) { dispatchMain() }
    }
}
