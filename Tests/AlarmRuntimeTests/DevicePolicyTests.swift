import AlarmRuntime
import Testing

/// Every option that weakens the protection is refused on a device board, with its key named; the same board
/// without it loads, and a HIL board may still use it (rigs and development need them).
@Suite struct DevicePolicyTests {
    func board(kind: String = "device", link: String = "dc09+tcp://127.0.0.1:7510", reporting: String = "",
               alarm: String = "", extra: String = "") -> String {
        """
        { name: "d", kind: "\(kind)", device: { id: "BE-D-1" }, silence: "no-speaker",
          roles: { button: "input:/dev/input/event0?key=KEY_PROG1", position: "gpsd://127.0.0.1:2947",
                   modem: "serial:/dev/ttyUSB2", reportLink: "\(link)" },
          reporting: { account: "1234", prefix: "1", keyFile: "/etc/a/dc09.key", smsKeyFile: "/etc/a/sms.key", \(reporting) },
          storage: "/var/lib/a", storageKey: "/etc/a/storage.key", controlSocket: "/run/a/sock",
          alarm: { centreNumbers: ["+3292000101"], \(alarm) } \(extra) }
        """
    }

    func problem(_ text: String) -> BoardError? {
        do {
            _ = try Board.parse(Array(text.utf8), file: "boards/d.json5")
            return nil
        } catch {
            return error
        }
    }

    @Test func theBaselineDeviceBoardLoads() {
        #expect(problem(board()) == nil)
        #expect(problem(board(reporting: "supervision: \"1h\"", alarm: "triggerHold: \"5s\", trackingDuration: \"10min\", periodicTest: \"24h\"")) == nil)
    }

    @Test(arguments: [
        (["link": "tcp://127.0.0.1:7510"], "roles.reportLink", "plaintext"),
        (["reporting": "encryption: \"none\""], "reporting.encryption", "none"),
        (["reporting": "smsFormat: \"plain\""], "reporting.smsFormat", "plain"),
        (["reporting": "supervision: \"off\""], "reporting.supervision", "off"),
        (["reporting": "supervision: \"2h\""], "reporting.supervision", "1h"),
        (["alarm": "periodicTest: \"off\""], "alarm.periodicTest", "off"),
        (["alarm": "periodicTest: \"48h\""], "alarm.periodicTest", "24h"),
        (["alarm": "triggerHold: \"300ms\""], "alarm.triggerHold", "0.5s-5s"),
        (["alarm": "triggerHold: \"1h\""], "alarm.triggerHold", "0.5s-5s"),
        (["alarm": "trackingDuration: \"5min\""], "alarm.trackingDuration", "10min"),
        (["extra": ", testPort: { listen: \"tcp://127.0.0.1:1502\" }"], "testPort.listen", "authentication"),
    ])
    func aWeakeningOptionIsRefusedNamingItsKey(option: [String: String], key: String, says: String) throws {
        let text = board(link: option["link"] ?? "dc09+tcp://127.0.0.1:7510", reporting: option["reporting"] ?? "",
                         alarm: option["alarm"] ?? "", extra: option["extra"] ?? "")
        let error = try #require(problem(text), "accepted on a device board: \(option)")
        #expect(error.key == key, "\(error)")
        #expect(error.problem.contains(says), "\(error)")
        // A HIL board may use it (except encryption "none", which only a simulator may).
        if key != "reporting.encryption" {
            let hil = board(kind: "hil", link: option["link"] ?? "dc09+tcp://127.0.0.1:7510", reporting: option["reporting"] ?? "",
                            alarm: option["alarm"] ?? "", extra: option["extra"] ?? "")
            #expect(problem(hil) == nil, "\(String(describing: problem(hil)))")
        }
    }
}
