import AlarmRuntime
import ArgumentParser
import Dispatch
import Glibc
import HAL
import LinuxBackends
import Logging

/// The alarm daemon: reads a board file, builds the backends it names, and runs the alarm.
@main
struct Alarmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarmd",
        abstract: "Stalking-alarm daemon: button → position → voice call and report to the receiving centre.")

    @Option(name: .long, help: "Board file (JSON5) naming a backend per role and the alarm settings.")
    var board: String

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical. Positions appear only at debug and below.")
    var logLevel: String = "info"

    @Flag(name: .long, help: "Check the board file against this machine (devices, gpsd, audio, key files, directories) and exit; non-zero if a check fails.")
    var check = false

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(logLevel)\"")
        }
        let handlerLevel = level
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: handlerLevel) }
        let logger = Logger(label: "alarmd")

        let parsed: Board
        do {
            parsed = try Board.load(path: board)
        } catch {
            logger.critical("invalid board file: \(error)")
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
        do {
            device = try DeviceAssembly.assemble(parsed, clock: clock, logger: logger, eventLoop: .dedicated)
        } catch {
            logger.critical("cannot build the device: \(error)")
            throw ExitCode(2)
        }
        let control: ControlServer
        do {
            let simulation = parsed.kind == .device ? nil : SimControl(world: device.simulation, clock: clock)
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
