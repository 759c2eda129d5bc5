import AlarmRuntime
import AlarmSimulation
import FoundationEssentials
import Glibc
import HAL
import Logging
import PosixIO
import SimBackends
import Testing

/// The test port against pymodbus, an independent Modbus client that knows the map only from docs/hil.md
/// (Tests/Interop/modbus_rig_client.py). The device runs on a manual clock; the script prints a JSON line per
/// step, and the test advances time only after the line saying the press was written, so nothing waits on
/// real time.
@Suite(.serialized, .enabled(if: PymodbusRig.available, "needs .venv with pymodbus (run `make venv` or `make test`)"))
struct PymodbusInteropTests {
    static let waypoint = (latitude: 51.0543, longitude: 3.7174)

    static func board(pressInjection: Bool, directory: String) throws -> Board {
        let text = """
            { name: "hil-pymodbus", kind: "hil", device: { id: "BE-HIL-PY" }, silence: "no-speaker",
              roles: { button: "sim:", position: "sim:route", modem: "sim:", reportLink: "sim:", vibrator: "sim:" },
              storage: "\(directory)/state", controlSocket: "\(directory)/sock",
              alarm: { centreNumbers: ["+3292000101"], triggerHold: "2s" },
              testPort: { listen: "tcp://127.0.0.1:0", pressInjection: \(pressInjection) },
              simulation: { modem: { registerAfter: "200ms", answerAfter: "1s" },
                            route: { waypoints: [[\(waypoint.latitude), \(waypoint.longitude)], [51.0548, 3.7201]],
                                     speed: 1.4, accuracy: 6, noFixFor: "0s" } } }
            """
        return try Board.parse(Array(text.utf8), file: "boards/hil-pymodbus.json5")
    }

    /// A device on a manual clock, registered and with a fix, its test port on a free loopback port.
    static func device(pressInjection: Bool) throws -> (SimulatedDevice, ManualClock, UInt16) {
        let clock = ManualClock()
        let directory = "/tmp/alarm-pymodbus-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let device = try SimulationAssembly.assemble(try board(pressInjection: pressInjection, directory: directory), clock: clock,
                                                 logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
                                                 store: InMemoryRecordStore())
        try device.start()
        for _ in 0..<20 { clock.advance(by: .milliseconds(100)) }
        return (device, clock, try #require(device.testPort).boundPort)
    }

    @Test func pymodbusReadsTheMapAndItsPressRaisesTheAlarm() throws {
        let (device, clock, port) = try Self.device(pressInjection: true)
        defer { device.stop() }
        let rig = try PymodbusRig(["--port", "\(port)", "--press", "2300", "--timeout", "20"])
        defer { rig.stop() }

        let map = try rig.next("map")
        #expect(map.registers?.count == 34)
        #expect(map.values?["mapVersion"] == 1)
        #expect(map.values?["alarmState"] == 0)
        #expect(map.values?["registration"] == 3, "home")
        #expect((map.values?["fixMode"] ?? 0) >= 2)
        // The script decodes int32 × 10⁷, high word first, on its own; the first waypoint must come out.
        let latitude = try #require(map.values?["latitude"]), longitude = try #require(map.values?["longitude"])
        #expect(abs(latitude - Self.waypoint.latitude) < 0.001 && abs(longitude - Self.waypoint.longitude) < 0.003,
                "\(latitude), \(longitude)")
        let registers = try #require(map.registers)
        let rawLatitude = Int32(bitPattern: UInt32(registers[8]) << 16 | UInt32(registers[9]))
        #expect(Double(rawLatitude) / 1e7 == latitude, "the words are high word first")
        #expect(map.values?["fixAccuracy"] == 60, "6 m in decimetres")
        #expect(map.pressLengthMs == 2500, "the default press length")

        let probed = try rig.next("probes")
        let probes = try #require(probed.exceptions)
        #expect(probes["writeCoilOutsideMap"] == 2)
        #expect(probes["writeHoldingOutsideMap"] == 2)
        #expect(probes["writeHoldingAcrossEnd"] == 2)
        #expect(probed.pressLengthMs == 2500, "the refused write across the end left register 0 alone")
        #expect(probed.values?["injectedPresses"] == 0)
        #expect(probes["readInputOutsideMap"] == 2)
        #expect(probes["reportServerId"] == 1, "an unsupported function is illegal function")

        let pressed = try rig.next("pressed")
        // Acknowledged writes have taken effect: the next read already sees them (the clock has not moved).
        #expect(pressed.pressLengthMs == 2300)
        #expect(pressed.coils?["press"] == true)
        #expect(pressed.discrete?["button"] == true)
        #expect(pressed.values?["injectedPresses"] == 1)
        #expect(pressed.values?["alarmState"] == 0, "the trigger hold has not passed yet")

        // Hold the button past the 2 s trigger hold; the script is polling meanwhile and stops at alarm state ≥ 1.
        for _ in 0..<24 { clock.advance(by: .milliseconds(100)) }
        let final = try rig.next("final")
        #expect(final.alarm == true)
        #expect((final.values?["alarmState"] ?? 0) >= 1)
        #expect(final.values?["alarmNumber"] == 1)
        #expect(final.values?["alarmsRaised"] == 1)
        #expect(final.values?["injectedPresses"] == 1)
        #expect(rig.exitStatus() == 0)
    }

    @Test func withoutPressInjectionTheWritableAddressesAreReadOnly() throws {
        let (device, clock, port) = try Self.device(pressInjection: false)
        defer { device.stop() }
        let rig = try PymodbusRig(["--port", "\(port)", "--read-only"])
        defer { rig.stop() }
        #expect(try rig.next("map").values?["mapVersion"] == 1)
        let probes = try #require(try rig.next("probes").exceptions)
        #expect(probes["writePressCoilReadOnly"] == 2)
        #expect(probes["writePressLengthReadOnly"] == 2)
        #expect(probes["writeCoilOutsideMap"] == 2)
        #expect(rig.exitStatus() == 0)

        // Had the refused coil write pressed anyway, 4 s would raise the alarm.
        for _ in 0..<40 { clock.advance(by: .milliseconds(100)) }
        let after = try PymodbusRig(["--port", "\(port)"])
        defer { after.stop() }
        let map = try after.next("map")
        #expect(map.values?["alarmState"] == 0)
        #expect(map.values?["injectedPresses"] == 0)
        #expect(map.pressLengthMs == 2500)
    }
}

/// Tests/Interop/modbus_rig_client.py under .venv's interpreter, its stdout on a pipe read line by line.
final class PymodbusRig {
    struct Line: Decodable {
        var event: String
        var message: String?
        var registers: [Int]?
        var values: [String: Double]?
        var discrete: [String: Bool]?
        var coils: [String: Bool]?
        var pressLengthMs: Int?
        var exceptions: [String: Int]?
        var alarm: Bool?
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let repository: String = {
        // Tests/HILTests/PymodbusInteropTests.swift → repository root
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static let python = repository + "/.venv/bin/python3"

    /// pymodbus importable from .venv (the Makefile installs it from Tests/requirements.txt).
    static let available: Bool = {
        guard access(python, X_OK) == 0,
              let child = try? ChildProcess.spawn(python, ["-c", "import pymodbus"]) else { return false }
        return ((try? child.wait(timeoutMilliseconds: 20_000)) ?? nil) == 0
    }()

    let child: ChildProcess
    let output: FileDescriptor
    var pending: [UInt8] = []

    init(_ arguments: [String]) throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw Failure(description: "pipe: \(Errno(errno))") }
        // Close-on-exec, so that only the dup2'ed stdout reaches the script (else our read end never sees EOF).
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        output = FileDescriptor(rawValue: ends[0])
        let input = FileDescriptor(rawValue: ends[1])
        defer { try? input.close() }
        do {
            child = try ChildProcess.spawn(Self.python, [Self.repository + "/Tests/Interop/modbus_rig_client.py"] + arguments,
                                           stdout: input)
        } catch {
            try? output.close()
            throw error
        }
    }

    /// The next line the script prints, which must be the `event` expected; a 20 s guard only against a hung script.
    func next(_ event: String) throws -> Line {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let text = Array(pending[..<newline])
                pending.removeFirst(newline + 1)
                let line = try JSONDecoder().decode(Line.self, from: Data(text))
                guard line.event == event else {
                    throw Failure(description: "expected \(event), the script said \(String(decoding: text, as: UTF8.self))")
                }
                return line
            }
            guard try output.poll(events: Int16(POLLIN), timeoutMilliseconds: 20_000) != 0 else {
                throw Failure(description: "the script printed no \(event) line within 20 s")
            }
            let bytes = try output.read(upTo: 4096)
            guard !bytes.isEmpty else {
                throw Failure(description: "the script ended (status \(exitStatus().map(String.init) ?? "?")) before its \(event) line")
            }
            pending += bytes
        }
    }

    func exitStatus() -> Int32? { (try? child.wait(timeoutMilliseconds: 20_000)) ?? nil }

    func stop() {
        child.stop()
        try? output.close()
    }
}
