import AlarmCore
import AlarmRuntime
import AlarmSimulation
import Glibc
import Logging
import Modbus
import PosixIO
import SimBackends
import Testing

/// The device's HIL test port: the register map read by our libmodbus client, press injection, and the board
/// rules that keep an unauthenticated port off real devices.
@Suite struct TestPortTests {
    static func board(kind: String = "simulator", injection: Bool = true, positions: Bool = true, directory: String) throws -> Board {
        let text = """
            { name: "hil", kind: "\(kind)", device: { id: "BE-HIL-1" }, silence: "no-speaker",
              roles: { button: "sim:", position: "sim:route", modem: "sim:", reportLink: "sim:", vibrator: "sim:" },
              storage: "\(directory)/state", controlSocket: "\(directory)/sock",
              alarm: { centreNumbers: ["+3292000101"], triggerHold: "2s" },
              testPort: { listen: "tcp://127.0.0.1:0", pressInjection: \(injection), positions: \(positions) },
              simulation: { modem: { registerAfter: "200ms", answerAfter: "1s" },
                            route: { waypoints: [[51.0543, 3.7174], [51.0548, 3.7201]], speed: 1.4, accuracy: 6, noFixFor: "0s" } } }
            """
        return try Board.parse(Array(text.utf8), file: "boards/hil-test.json5")
    }

    static func directory() -> String { "/tmp/alarm-testport-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }
    static let quiet = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func aDeviceBoardCannotOpenATestPort() {
        let text = """
            { name: "pi", kind: "device", device: { id: "BE-PI-1" }, silence: "no-speaker",
              roles: { button: "gpio:/dev/gpiochip0?line=17", position: "gpsd://127.0.0.1:2947", modem: "serial:/dev/ttyUSB2",
                       reportLink: "tcp://127.0.0.1:7510" },
              storage: "/var/lib/stalking-alarm", storageKey: "/etc/stalking-alarm/storage.key", controlSocket: "/run/alarmd.sock",
              alarm: { centreNumbers: ["+3292000101"] },
              testPort: { listen: "tcp://127.0.0.1:1502", pressInjection: true } }
            """
        do {
            _ = try Board.parse(Array(text.utf8), file: "boards/hil-test.json5")
            Issue.record("accepted")
        } catch let error as BoardError {
            #expect(error.file == "boards/hil-test.json5")
            #expect(error.key == "testPort.listen")
            #expect("\(error)".contains("no authentication"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func theMapShowsTheDeviceAndAnInjectedPressRaisesTheAlarm() throws {
        let clock = ManualClock()
        let device = try SimulationAssembly.assemble(try Self.board(directory: Self.directory()), clock: clock, logger: Self.quiet,
                                                 store: InMemoryRecordStore())
        try device.start()
        defer { device.stop() }
        let port = try #require(device.testPort)
        for _ in 0..<20 { clock.advance(by: .milliseconds(100)) }
        let client = try ModbusClient.tcp(host: "127.0.0.1", port: port.boundPort)

        var registers = try client.readInputRegisters(0, count: TestPortMap.Input.count)
        #expect(registers[TestPortMap.Input.mapVersion.rawValue] == 1)
        #expect(registers[TestPortMap.Input.alarmState.rawValue] == 0)
        #expect(registers[TestPortMap.Input.registration.rawValue] == 3, "home")
        #expect(registers[TestPortMap.Input.fixMode.rawValue] >= 2)
        let latitude = Double(registers.int32(at: TestPortMap.Input.latitude.rawValue)) / 1e7
        let longitude = Double(registers.int32(at: TestPortMap.Input.longitude.rawValue)) / 1e7
        #expect(abs(latitude - 51.0543) < 0.001 && abs(longitude - 3.7174) < 0.003, "\(latitude), \(longitude)")
        #expect(registers[TestPortMap.Input.fixAccuracy.rawValue] == 60, "6 m in decimetres")
        #expect(try client.readHoldingRegisters(0, count: 1) == [2500])

        try client.writeRegister(TestPortMap.pressLengthRegister, 2300)
        try client.writeCoil(TestPortMap.pressCoil, true)
        #expect(try client.readDiscreteInputs(0, count: 3)[TestPortMap.Discrete.button.rawValue] == true)
        #expect(try client.readCoils(0, count: 1) == [true])
        // A second fire while the press lasts is not a second press.
        try client.writeCoil(TestPortMap.pressCoil, true)
        for _ in 0..<24 { clock.advance(by: .milliseconds(100)) }
        #expect(try client.readCoils(0, count: 1) == [false])
        registers = try client.readInputRegisters(0, count: TestPortMap.Input.count)
        #expect(registers[TestPortMap.Input.alarmState.rawValue] == 1 || registers[TestPortMap.Input.alarmState.rawValue] == 2)
        #expect(registers[TestPortMap.Input.alarmNumber.rawValue] == 1)
        #expect(registers.uint32(at: TestPortMap.Input.alarmsRaised.rawValue) == 1)
        #expect(registers[TestPortMap.Input.injectedPresses.rawValue] == 1)
        #expect(registers[TestPortMap.Input.callState.rawValue] == 1, "dialling")
        // The alarm's haptic pattern (120 on, 80 off, 120 on) as the discrete input sees it.
        #expect(try client.readDiscreteInputs(0, count: 1) == [true])
        clock.advance(by: .milliseconds(400))
        #expect(try client.readDiscreteInputs(0, count: 1) == [false])

        for _ in 0..<20 { clock.advance(by: .milliseconds(100)) }
        registers = try client.readInputRegisters(0, count: TestPortMap.Input.count)
        #expect(registers[TestPortMap.Input.callState.rawValue] == 2, "connected")
        #expect(registers.uint32(at: TestPortMap.Input.callsPlaced.rawValue) >= 1)
        #expect(registers.uint32(at: TestPortMap.Input.reportsSent.rawValue) >= 1)
    }

    func refused(_ write: () throws(ModbusError) -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try write()
            Issue.record("write accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == .exception(2), sourceLocation: sourceLocation)
        }
    }

    @Test func withoutInjectionEveryWriteIsRefusedAndNothingHappens() throws {
        let clock = ManualClock()
        let device = try SimulationAssembly.assemble(try Self.board(injection: false, positions: false, directory: Self.directory()),
                                                 clock: clock, logger: Self.quiet, store: InMemoryRecordStore())
        try device.start()
        defer { device.stop() }
        for _ in 0..<20 { clock.advance(by: .milliseconds(100)) }
        let client = try ModbusClient.tcp(host: "127.0.0.1", port: try #require(device.testPort).boundPort)
        refused { () throws(ModbusError) in try client.writeCoil(TestPortMap.pressCoil, true) }
        refused { () throws(ModbusError) in try client.writeCoil(TestPortMap.endAlarmCoil, true) }
        refused { () throws(ModbusError) in try client.writeRegister(TestPortMap.pressLengthRegister, 2500) }
        for _ in 0..<40 { clock.advance(by: .milliseconds(100)) }
        let registers = try client.readInputRegisters(0, count: TestPortMap.Input.count)
        #expect(registers[TestPortMap.Input.alarmState.rawValue] == 0)
        #expect(registers.int32(at: TestPortMap.Input.latitude.rawValue) == 0, "positions withheld")
        #expect(registers[TestPortMap.Input.fixMode.rawValue] >= 2, "the fix itself is still reported")
    }
}
