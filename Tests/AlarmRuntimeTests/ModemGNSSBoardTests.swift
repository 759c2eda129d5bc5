import AlarmCore
import AlarmRuntime
import AlarmSimulation
import Logging
import ModemEmulator
import SimBackends
import Testing

/// `position: "modem:gnss"`: the board wiring of the modem's own GNSS read over AT.
@Suite struct ModemGNSSBoardTests {
    let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

    func board(modem: String) throws -> Board {
        let text = """
            { name: "t", kind: "simulator", device: { id: "D-1" }, silence: "no-speaker",
              roles: { button: "sim:", position: "modem:gnss", modem: "\(modem)", reportLink: "sim:", },
              storage: "/tmp/x", controlSocket: "/tmp/x.sock",
              alarm: { centreNumbers: ["+3292000101"] }, }
            """
        return try Board.parse(Array(text.utf8), file: "boards/uart-only.json5")
    }

    func assemblyError(_ board: Board) -> BoardError? {
        do {
            let device = try SimulationAssembly.assemble(board, clock: ManualClock(), logger: logger, store: InMemoryRecordStore())
            device.stop()
            return nil
        } catch {
            return error
        }
    }

    @Test func needsAnATModem() throws {
        let error = try #require(assemblyError(try board(modem: "sim:")))
        #expect(error.file == "boards/uart-only.json5")
        #expect(error.key == "roles.position")
        #expect(error.problem.contains("needs an AT modem (serial: or pty:sim)"))
    }

    @Test func needsAProfileWithAGNSSQuery() throws {
        let error = try #require(assemblyError(try board(modem: "pty:sim?profile=generic")))
        #expect(error.file == "boards/uart-only.json5")
        #expect(error.key == "roles.position")
        #expect(error.problem.contains("quectel-ec25 or simcom-sim7600"), "\(error.problem)")
        #expect(error.problem.contains("\"generic\""))
    }

    @Test func quectelAndSIMComBoardsAssembleAndTheEmulatedFixIsSetFromAlarmctl() throws {
        #expect(assemblyError(try board(modem: "pty:sim?profile=simcom-sim7600")) == nil)
        let clock = ManualClock()
        let device = try SimulationAssembly.assemble(try board(modem: "pty:sim"), clock: clock, logger: logger,
                                                 store: InMemoryRecordStore())
        defer { device.stop() }
        let control = SimControl(world: device.simulation, clock: clock)
        #expect(try control.perform(["modem-gnss", "-33.86882", "151.20929", "1.2"]) == "modem GNSS fix at -33.86882, 151.20929")
        #expect(device.simulation.emulator?.transcript.last == "-- GNSS fix at -33.86882, 151.20929")
        #expect(try control.perform(["modem-gnss", "drop"]) == "modem GNSS fix dropped")
        #expect(throws: SimControl.Failure.self) { try control.perform(["modem-gnss", "91", "0"]) }
        #expect(throws: SimControl.Failure.self) { try control.perform(["modem-gnss", "50", "4", "0"]) }
    }
}
