import AlarmRuntime
import Dispatch
import Glibc
import HAL
import LinuxBackends
import Logging

/// The daemon's options, the same in both builds. Parsed by hand: four options do not justify the half megabyte
/// (file and resident) that swift-argument-parser adds to the device's binary (docs/performance.md).
public struct DaemonOptions: Sendable, Equatable {
    public var board: String
    public var logLevel = "info"
    public var operatorKey = ProvisionedBoard.defaultOperatorKeyPath
    public var check = false

    public init(board: String) { self.board = board }

    public static func usage(_ command: String) -> String {
        """
        USAGE: \(command) --board FILE [--log-level LEVEL] [--operator-key FILE] [--check]

          --board FILE          board file (JSON5) naming a backend per role and the alarm settings
          --log-level LEVEL     trace, debug, info, notice, warning, error, critical (default: info);
                                positions appear only at debug and below
          --operator-key FILE   the operator's public key that signs provisioning bundles
                                (default: \(ProvisionedBoard.defaultOperatorKeyPath), installed read-only by make install)
          --check               check the board file against this machine (devices, gpsd, audio, key files,
                                directories) and exit; non-zero if a check fails
          -h, --help            this text
        """
    }

    public enum Parsed: Equatable {
        case run(DaemonOptions)
        case help
        case invalid(String)
    }

    /// `arguments` without the program name.
    public static func parse(_ arguments: [String]) -> Parsed {
        var board: String?
        var logLevel: String?
        var operatorKey: String?
        var check = false
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            var name = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            func value() -> String? { inline ?? rest.popFirst() }
            switch name {
            case "-h", "--help": return .help
            case "--check": check = true
            case "--board":
                guard let v = value(), !v.isEmpty else { return .invalid("--board needs a file") }
                board = v
            case "--log-level":
                guard let v = value() else { return .invalid("--log-level needs a level") }
                logLevel = v
            case "--operator-key":
                guard let v = value(), !v.isEmpty else { return .invalid("--operator-key needs a file") }
                operatorKey = v
            default: return .invalid("unknown argument \"\(argument)\"")
            }
        }
        guard let board else { return .invalid("missing --board FILE") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            return .invalid("--log-level: expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(logLevel)\"")
        }
        var options = DaemonOptions(board: board)
        options.logLevel = logLevel ?? options.logLevel
        options.operatorKey = operatorKey ?? options.operatorKey
        options.check = check
        return .run(options)
    }
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
    /// The process's whole life: parses `CommandLine.arguments`, runs, and exits with the status (0 help or a
    /// passed check, 1 a failed check, 2 a board or start-up that cannot run, 64 a usage error).
    public static func main(command: String, build: DaemonBuild) -> Never {
        switch DaemonOptions.parse(Array(CommandLine.arguments.dropFirst())) {
        case .help:
            print(DaemonOptions.usage(command))
            exit(0)
        case .invalid(let problem):
            let text = Array("\(command): \(problem)\n\(DaemonOptions.usage(command))\n".utf8)
            _ = text.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            exit(64)
        case .run(let options):
            exit(run(options, build: build))
        }
    }

    /// Runs until a signal stops it (never returns then); returns the exit status when it cannot run or only checks.
    static func run(_ options: DaemonOptions, build: DaemonBuild) -> Int32 {
        let board = options.board, check = options.check
        let handlerLevel = Logger.Level(rawValue: options.logLevel) ?? .info
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: handlerLevel) }
        let logger = Logger(label: "alarmd")

        let parsed: Board
        do {
            parsed = try ProvisionedBoard.load(path: board, operatorKeyPath: options.operatorKey)
        } catch {
            logger.critical("invalid board file: \(error)")
            return 2
        }
        if let refusal = build.refusal(parsed) {
            logger.critical("\(refusal)")
            return 2
        }
        if check { return BoardCheckReport.run(parsed, file: board) }

        // A daemon writing into a closed socket must get EPIPE, not die.
        signal(SIGPIPE, SIG_IGN)
        let clock = SystemClock()
        let device: AssembledDevice
        let simulation: (any SimulationCommands)?
        do {
            (device, simulation) = try build.assemble(parsed, clock, logger)
        } catch {
            logger.critical("cannot build the device: \(error)")
            return 2
        }
        let control: ControlServer
        do {
            control = try ControlServer(path: parsed.controlSocketPath, runtime: device.runtime,
                                        simulation: simulation, logger: logger)
        } catch {
            logger.critical("cannot open the control socket \(parsed.controlSocketPath): \(error)")
            return 2
        }
        do {
            try device.start()
        } catch {
            logger.critical("cannot start: \(error)")
            control.stop()
            return 2
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
