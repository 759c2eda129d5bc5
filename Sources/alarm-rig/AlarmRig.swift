import ArgumentParser
import Dispatch
import Glibc
import HILRig
import Logging
import PosixIO

/// Runs HIL scenario files against a device through its Modbus test port and the rig's I/O module, or against
/// the simulator standing in for both (`--simulate`). Exit status 0 when every scenario passed.
@main
struct AlarmRig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm-rig",
        abstract: "Run HIL scenario files against a device (or the simulator) through Modbus. See docs/hil.md.")

    @Option(name: .long, help: "Rig file (JSON5): the device's test port, the I/O module and its relay coils.")
    var rig: String

    @Option(name: .long, help: "Run against the simulator: a HIL board file; starts the centre, the daemon and a simulated I/O module.")
    var simulate: String?

    @Option(name: .long, help: "Write a JUnit XML report here.")
    var junit: String?

    @Option(name: .long, help: "Write the results and measured intervals as JSON here.")
    var json: String?

    @Option(name: .long, help: "Where the simulator's logs go (with --simulate).")
    var logs: String = ".hil"

    @Argument(help: "Scenario files (JSON5).")
    var scenarios: [String]

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let rigFile: RigFile
        var loaded: [Scenario] = []
        do {
            rigFile = try RigFile.load(rig)
            for path in scenarios { loaded.append(try Scenario.load(path)) }
        } catch {
            print("alarm-rig: \(error)")
            throw ExitCode(2)
        }
        guard !loaded.isEmpty else { throw ValidationError("no scenario files given") }

        var world: SimulatedRig?
        if let simulate {
            let bin = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast()
                .joined(separator: "/"))
            LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
            do {
                let simulated = try SimulatedRig(boardPath: simulate, rig: rigFile, binDirectory: bin, logs: logs,
                                                 logger: Logger(label: "sim-rig"))
                try simulated.startIOModule()
                world = simulated
            } catch {
                print("alarm-rig: \(error)")
                throw ExitCode(2)
            }
        }
        let cleanup = world
        let interrupts = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                cleanup?.stop()
                Glibc.exit(130)
            }
            source.resume()
            return source
        }
        defer { withExtendedLifetime(interrupts) {} }

        let runner = ScenarioRunner(rig: rigFile) { line in
            print(line)
            fflush(nil)
        }
        var results: [ScenarioResult] = []
        for scenario in loaded {
            if let world {
                do {
                    try world.restartFresh()
                } catch {
                    print("alarm-rig: the simulator did not start: \(error)")
                    world.stop()
                    throw ExitCode(2)
                }
            }
            results.append(runner.run(scenario))
        }
        world?.stop()

        let passed = results.filter(\.passed).count
        print("\(passed) of \(results.count) scenario(s) passed on rig \"\(rigFile.name)\"")
        for result in results where !result.passed { print("  FAILED \(result.name): \(result.failure ?? "")") }
        if let junit { try write(RigReports.junit(results, suite: "hil.\(rigFile.name)"), to: junit) }
        if let json { try write(RigReports.json(results, rig: rigFile.name), to: json) }
        if world != nil { print("logs: \(logs)/alarmd.log, \(logs)/centre.log") }
        if passed != results.count { throw ExitCode(1) }
    }

    func write(_ text: String, to path: String) throws {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let directory = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
        try StorageDirectory(path: directory.isEmpty ? "/" : directory).replaceAtomically(String(parts.last ?? ""), with: Array(text.utf8))
    }
}
