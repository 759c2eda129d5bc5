import AlarmDaemon
import AlarmRuntime
import AlarmSimulation

/// The developer and HIL build of the alarm daemon: the device's daemon plus the simulated backends, the modem
/// emulator, `alarmctl sim …` and the Modbus test port. Never installed on a device (`make release` ships `alarmd`).
@main
enum AlarmdSim {
    static func main() {
        let build = DaemonBuild(refusal: { _ in nil }, assemble: { (board, clock, logger) throws(BoardError) in
            let simulated = try SimulationAssembly.assemble(board, clock: clock, logger: logger, eventLoop: .dedicated)
            return (simulated.device, SimControl(world: simulated.simulation, clock: clock))
        })
        Daemon.main(command: "alarmd-sim", build: build)
    }
}
