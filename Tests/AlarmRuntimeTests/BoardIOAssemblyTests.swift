@testable import AlarmRuntime
import AlarmSimulation
import AlarmCore
import Dispatch
import Glibc
import HAL
import Logging
import SimBackends
import Synchronization
import Testing

/// Board-I/O ports in board files: the URI forms, the errors that name the file, the role and what was
/// expected, and a whole device assembled on kernel-shaped files (a FIFO for the input device, sysfs-shaped
/// LED and power-supply directories).
@Suite struct BoardIOAssemblyTests {
    static let file = "boards/pi.json5"

    func parse(_ text: String, _ role: Role) throws(BoardError) -> BoardIOPort? {
        try BoardIOPort.parse(PortURI(text)!, role: role, file: Self.file)
    }

    func problem(_ text: String, _ role: Role) -> BoardError? {
        do {
            _ = try parse(text, role)
            return nil
        } catch {
            return error
        }
    }

    @Test func theDocumentedFormsParse() throws {
        #expect(try parse("input:/dev/input/by-path/platform-gpio-keys-event?key=KEY_PROG1", .button)
            == .inputKey(path: "/dev/input/by-path/platform-gpio-keys-event", key: 148))
        #expect(try parse("input:/dev/input/event3?key=256", .button) == .inputKey(path: "/dev/input/event3", key: 256))

        guard case .gpioInput(let settings)? = try parse("gpio:/dev/gpiochip0?line=17&active=low&bias=pull-up&debounce=30ms", .button)
        else { Issue.record("not a GPIO input"); return }
        #expect(settings.chip == "/dev/gpiochip0")
        #expect(settings.line == 17)
        #expect(settings.activeLow)
        #expect(settings.bias == .pullUp)
        #expect(settings.debounce == .milliseconds(30))
        guard case .gpioInput(let plain)? = try parse("gpio:/dev/gpiochip1?line=4", .button) else { Issue.record("no"); return }
        #expect(!plain.activeLow)
        #expect(plain.bias == .asIs)
        #expect(plain.debounce == .milliseconds(30))

        #expect(try parse("gpio:/dev/gpiochip0?line=18&active=low", .vibrator) == .gpioOutput(chip: "/dev/gpiochip0", line: 18, activeLow: true))
        #expect(try parse("gpio:/dev/gpiochip0?line=22", .modemPower) == .gpioOutput(chip: "/dev/gpiochip0", line: 22, activeLow: false))
        #expect(try parse("led:/sys/class/leds/vibrator", .amplifierEnable) == .led(directory: "/sys/class/leds/vibrator"))
        #expect(try parse("power-supply:/sys/class/power_supply/battery", .power)
            == .powerSupply(directory: "/sys/class/power_supply/battery", interval: .seconds(60)))
        #expect(try parse("power-supply:/sys/class/power_supply/bq27441-0?interval=2min", .power)
            == .powerSupply(directory: "/sys/class/power_supply/bq27441-0", interval: .seconds(120)))
        // Other schemes are not ours to judge.
        #expect(try parse("sim:", .button) == nil)
        #expect(try parse("modem:cbc", .power) == nil)
        // A button scheme on an output role (and the reverse) is not a board-I/O port there.
        #expect(try parse("input:/dev/input/event0?key=KEY_ENTER", .vibrator) == nil)
        #expect(try parse("led:/sys/class/leds/x", .button) == nil)
    }

    @Test func badQueriesNameTheFileTheRoleAndTheExpectedForm() throws {
        let cases: [(String, Role, String)] = [
            ("gpio:/dev/gpiochip0", .button, "line= missing"),
            ("gpio:/dev/gpiochip0?line=seventeen", .button, "line: expected"),
            ("gpio:/dev/gpiochip0?line=5000", .vibrator, "0-1023"),
            ("gpio:/dev/gpiochip0?line=17&active=sideways", .button, "active: expected high or low"),
            ("gpio:/dev/gpiochip0?line=17&bias=strong", .button, "bias: expected one of pull-up, pull-down, disabled, as-is"),
            ("gpio:/dev/gpiochip0?line=17&debounce=5min", .button, "debounce: expected a duration from 1ms to 1s"),
            ("gpio:/dev/gpiochip0?line=17&actve=low", .button, "unknown setting \"actve\""),
            ("gpio:/dev/gpiochip0?line=18&debounce=30ms", .amplifierEnable, "unknown setting \"debounce\""),
            ("gpio:gpiochip0?line=17", .button, "absolute path"),
            ("input:/dev/input/event0", .button, "key= missing"),
            ("input:/dev/input/event0?key=KEY_PANIC", .button, "key: expected one of"),
            ("led:/sys/class/leds/x?brightness=3", .vibrator, "unknown setting \"brightness\""),
            ("led:", .modemReset, "absolute path"),
            ("power-supply:/sys/class/power_supply/battery?interval=1s", .power, "at least 5s"),
        ]
        for (uri, role, expected) in cases {
            let error = try #require(problem(uri, role), "\(uri) was accepted")
            #expect(error.file == Self.file)
            #expect(error.key == "roles.\(role.rawValue)")
            #expect(error.problem.contains(expected), "\(uri): \(error.problem)")
        }
        // The accepted forms are part of the message wherever the shape itself is wrong.
        #expect(problem("gpio:/dev/gpiochip0", .button)?.problem.contains("gpio:/dev/gpiochipN?line=17") == true)
        #expect(problem("led:", .vibrator)?.problem.contains("led:/sys/class/leds/NAME") == true)
    }

    @Test func theModemPowerLineIsModemPowerElseModemReset() throws {
        func board(_ roles: String) throws -> Board {
            try Board.parse(Array("""
                { name: "t", kind: "simulator", device: { id: "D-1" }, silence: "no-speaker",
                  roles: { button: "sim:", position: "sim:", modem: "serial:/dev/ttyS9", reportLink: "sim:", \(roles) },
                  storage: "/tmp/alarm-boardio-test", controlSocket: "/tmp/x.sock", alarm: { centreNumbers: ["+3292000101"] } }
                """.utf8), file: Self.file)
        }
        #expect(try DeviceAssembly.modemPowerLine(board("")) == nil)
        let reset = try #require(try DeviceAssembly.modemPowerLine(board(#"modemReset: "gpio:/dev/gpiochip0?line=5&active=low""#)))
        #expect("\(type(of: reset))" == "GPIOOutputLine")
        let both = try #require(try DeviceAssembly.modemPowerLine(
            board(#"modemReset: "gpio:/dev/gpiochip0?line=5", modemPower: "led:/sys/class/leds/modem-power""#)))
        #expect("\(type(of: both))" == "LEDClassLine")
        let serial = try board(#"modemPower: "serial:/dev/ttyS0""#)
        do {
            _ = try DeviceAssembly.modemPowerLine(serial)
            Issue.record("a serial port was accepted as a power line")
        } catch {
            #expect(error.key == "roles.modemPower")
            #expect(error.problem.contains("gpio:/dev/gpiochipN?line=18"))
        }
    }

    /// Since the board reader judges board I/O ports, a bad query never reaches assembly: it stops at load.
    @Test func aBadButtonQueryIsRefusedAtLoadNamingTheRole() throws {
        do {
            _ = try Board.parse(Array("""
                { name: "t", kind: "simulator", device: { id: "D-1" }, silence: "no-speaker",
                  roles: { button: "gpio:/dev/gpiochip0?line=x", position: "sim:", modem: "sim:", reportLink: "sim:" },
                  storage: "/tmp/alarm-boardio-test", controlSocket: "/tmp/x.sock", alarm: { centreNumbers: ["+3292000101"] } }
                """.utf8), file: Self.file)
            Issue.record("loaded with line=x")
        } catch {
            #expect(error.file == Self.file)
            #expect(error.key == "roles.button")
            #expect(error.problem.contains("line: expected"))
        }
    }

    /// The whole path on kernel-shaped files: a press written as input_event bytes into the input device
    /// raises the alarm, the vibrator (an LED-class line) buzzes, the amplifier line is held off, and the
    /// battery is read from the power-supply directory.
    @Test func aDeviceOnKernelInterfacesRaisesAnAlarmFromAnInputEvent() throws {
        let root = "/tmp/alarm-boardio-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = system("rm -rf '\(root)'") }
        for directory in [root, "\(root)/leds", "\(root)/leds/vib", "\(root)/leds/amp", "\(root)/ps", "\(root)/ps/battery"] {
            mkdir(directory, 0o755)
        }
        func write(_ path: String, _ text: String) {
            let fd = open(root + "/" + path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
            close(fd)
        }
        func read(_ path: String) -> String {
            let fd = open(root + "/" + path, O_RDONLY)
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = Glibc.read(fd, &buffer, buffer.count)
            return String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
        }
        write("leds/vib/max_brightness", "255\n")
        write("leds/vib/brightness", "0\n")
        write("leds/amp/max_brightness", "1\n")
        write("leds/amp/brightness", "1\n")
        write("ps/battery/capacity", "64\n")
        write("ps/battery/status", "Discharging\n")
        let event = root + "/event0"
        #expect(mkfifo(event, 0o600) == 0)
        let writer = open(event, O_RDWR | O_NONBLOCK)
        defer { close(writer) }

        let board = try Board.parse(Array("""
            { name: "pi", kind: "simulator", device: { id: "D-1" }, silence: "amplifier-off",
              roles: { button: "input:\(event)?key=KEY_PROG1", position: "sim:", modem: "sim:", reportLink: "sim:",
                       vibrator: "led:\(root)/leds/vib", amplifierEnable: "led:\(root)/leds/amp",
                       power: "power-supply:\(root)/ps/battery" },
              storage: "\(root)/state", controlSocket: "\(root)/x.sock", alarm: { centreNumbers: ["+3292000101"] } }
            """.utf8), file: Self.file)
        let clock = ManualClock()
        let device = try SimulationAssembly.assemble(board, clock: clock, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
                                                 store: InMemoryRecordStore())
        let buttonRecords = Mutex<[String]>([])
        let seen = DispatchSemaphore(value: 0)
        _ = device.runtime.addObserver { record in
            guard record.category == .button else { return }
            buttonRecords.withLock { $0.append(record.text) }
            seen.signal()
        }
        try device.start()
        defer { device.stop() }
        /// The event loop runs on whichever thread posts while it is idle: here the input reader's too. Until
        /// work handed to it runs on this very thread (so the loop was idle and this thread drained it), the
        /// reader's thread may still be inside the loop, and timer events that `advance` posts would be left
        /// to it, to finish after the clock has moved on.
        func quiesce() {
            let test = pthread_self()
            for _ in 0..<100 {
                let ranHere = Mutex(false)
                let done = DispatchSemaphore(value: 0)
                device.runtime.perform {
                    ranHere.withLock { $0 = pthread_equal(pthread_self(), test) != 0 }
                    done.signal()
                }
                guard done.wait(timeout: .now() + 10) == .success else { break }
                if ranHere.withLock({ $0 }) { return }
            }
            Issue.record("the event loop did not come to rest")
        }
        func advance(_ duration: Duration) {
            clock.advance(by: duration)
            quiesce()
        }
        #expect(read("leds/amp/brightness") == "0\n")
        #expect(device.runtime.status.batteryPercent == 64)
        #expect(device.runtime.status.charging == false)

        advance(.seconds(1))
        // KEY_PROG1 pressed (type 1, code 148, value 1), then SYN_REPORT; 64-bit little-endian input_event.
        func record(type: UInt16, code: UInt16, value: Int32) -> [UInt8] {
            [UInt8](repeating: 0, count: 16) + withUnsafeBytes(of: type.littleEndian, Array.init)
                + withUnsafeBytes(of: code.littleEndian, Array.init) + withUnsafeBytes(of: value.littleEndian, Array.init)
        }
        let press = record(type: 1, code: 148, value: 1) + record(type: 0, code: 0, value: 0)
        #expect(Glibc.write(writer, press, press.count) == press.count)
        #expect(seen.wait(timeout: .now() + 10) == .success)
        // The record is published before the step's effects run (the hold timer among them): wait for the
        // event loop to finish that step before moving the clock.
        quiesce()
        #expect(buttonRecords.withLock { $0 } == ["button pressed"])
        #expect(read("leds/vib/brightness") == "0\n")

        // The hold raises the alarm: the "raised" pattern starts on the vibrator's LED line.
        advance(.seconds(2))
        #expect(device.runtime.status.alarmNumber != nil)
        #expect(read("leds/vib/brightness") == "255\n")
        advance(.seconds(10))
        #expect(read("leds/vib/brightness") == "0\n")
        #expect(read("leds/amp/brightness") == "0\n")

        let release = record(type: 1, code: 148, value: 0) + record(type: 0, code: 0, value: 0)
        #expect(Glibc.write(writer, release, release.count) == release.count)
        #expect(seen.wait(timeout: .now() + 10) == .success)
        #expect(buttonRecords.withLock { $0 } == ["button pressed", "button released"])

        write("ps/battery/status", "Charging\n")
        advance(.seconds(60))
        #expect(device.runtime.status.charging == true)
    }
}
