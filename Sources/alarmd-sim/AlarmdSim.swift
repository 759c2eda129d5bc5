import AlarmDaemon
import AlarmRuntime
import AlarmSimulation
import ArgumentParser

/// The developer and HIL build of the alarm daemon: the device's daemon plus the simulated backends, the modem
/// emulator, `alarmctl sim …` and the Modbus test port. Never installed on a device (`make release` ships `alarmd`).
@main
struct AlarmdSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarmd-sim",
        abstract: "Stalking-alarm daemon with simulators (developer, CI and HIL builds; not for devices).")

    @OptionGroup var options: DaemonOptions

    func run() throws {
        let build = DaemonBuild(refusal: { _ in nil }, assemble: { (board, clock, logger) throws(BoardError) in
            let simulated = try SimulationAssembly.assemble(board, clock: clock, logger: logger, eventLoop: .dedicated)
            return (simulated.device, SimControl(world: simulated.simulation, clock: clock))
        })
        try Daemon.run(options, build: build)
    }
}
