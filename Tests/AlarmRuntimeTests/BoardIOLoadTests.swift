import AlarmRuntime
import Testing

/// Board I/O ports are judged when the board file is read (and so by `alarmd --check`), not at assembly.
@Suite struct BoardIOLoadTests {
    func load(roles: String) throws -> Board {
        let text = """
            { name: "pi", kind: "device", device: { id: "BE-PI-1" }, silence: "no-speaker",
              roles: { position: "gpsd://127.0.0.1:2947", reportLink: "dc09+tcp://127.0.0.1:7510", \(roles) },
              reporting: { account: "1234", prefix: "1", keyFile: "/etc/a/dc09.key", smsKeyFile: "/etc/a/sms.key" },
              storage: "/var/lib/a", storageKey: "/etc/a/storage.key", controlSocket: "/run/a/sock",
              alarm: { centreNumbers: ["+3292000101"] } }
            """
        return try Board.parse(Array(text.utf8), file: "boards/pi.json5")
    }

    @Test(arguments: [
        ("button: \"gpio:/dev/gpiochip0?line=abc\", modem: \"serial:/dev/ttyUSB2\"", "roles.button", "line"),
        ("button: \"input:/dev/input/event0?key=KEY_NOPE\", modem: \"serial:/dev/ttyUSB2\"", "roles.button", "key"),
        ("button: \"input:/dev/input/event0?key=KEY_PROG1\", modem: \"serial:/dev/ttyUSB2\", vibrator: \"gpio:/dev/gpiochip0\"",
         "roles.vibrator", "line"),
        ("button: \"input:/dev/input/event0?key=KEY_PROG1\", modem: \"pty:sim\", modemPower: \"gpio:/dev/gpiochip0?line=23\"",
         "roles.modemPower", "real modem"),
    ])
    func mistakesNameTheRole(roles: String, key: String, mentions: String) {
        do {
            _ = try load(roles: roles)
            Issue.record("accepted: \(roles)")
        } catch let error as BoardError {
            #expect(error.file == "boards/pi.json5")
            #expect(error.key == key)
            #expect(error.problem.contains(mentions), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func thePrototypesPortsAreAccepted() throws {
        let board = try load(roles: """
            button: "input:/dev/input/by-path/platform-alarm-event?key=KEY_PROG1", modem: "serial:/dev/ttyUSB2",
            vibrator: "gpio:/dev/gpiochip0?line=18", modemPower: "gpio:/dev/gpiochip0?line=23&active=low",
            power: "power-supply:/sys/class/power_supply/max1704x"
            """)
        #expect(board.roles[.modemPower]?.query["active"] == "low")
    }
}
