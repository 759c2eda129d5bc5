import AlarmRuntime
import Dispatch
import Glibc
import PosixIO
import Testing

/// `alarmd --check` on boards whose ports and files live in a private directory per test: real files, a real
/// pseudo-terminal standing in for a serial port, a real TCP listener standing in for gpsd.
@Suite struct BoardCheckTests {
    final class Fixture {
        let directory: String

        init() throws {
            var template = Array("/tmp/board-check-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw Errno.current }
            directory = String(cString: made)
        }

        deinit { _ = system("rm -rf '\(directory)'") }

        func path(_ name: String) -> String { directory + "/" + name }

        @discardableResult
        func write(_ name: String, _ bytes: [UInt8], mode: mode_t) throws -> String {
            let file = path(name)
            let fd = try FileDescriptor.open(file, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
            try fd.writeAll(bytes)
            try fd.close()
            // The umask must not decide the mode under test.
            guard chmod(file, mode) == 0 else { throw Errno.current }
            return file
        }

        /// A HIL board (real and simulated ports may mix) with the given roles and extra top-level sections.
        func board(roles: [String: String], extra: String = "", storageKey: String? = nil) throws -> Board {
            var all = ["button": "sim:", "position": "sim:route", "modem": "pty:sim", "reportLink": "sim:"]
            all.merge(roles) { _, new in new }
            let roleText = all.sorted { $0.key < $1.key }.map { "\($0.key): \"\($0.value)\"" }.joined(separator: ", ")
            let text = """
                {
                  name: "check", kind: "hil", device: { id: "BE-CHECK-1" }, silence: "no-speaker",
                  roles: { \(roleText) },
                  storage: "\(path("state"))", controlSocket: "\(path("alarmd.sock"))",
                  \(storageKey.map { "storageKey: \"\($0)\"," } ?? "")
                  alarm: { centreNumbers: ["+3292000101"] },
                  \(extra)
                }
                """
            return try Board.parse(Array(text.utf8), file: path("board.json5"))
        }
    }

    static func item(_ subject: String, in items: [BoardCheckItem]) throws -> BoardCheckItem {
        try #require(items.first { $0.subject == subject }, "no line for \(subject) in \(items)")
    }

    // MARK: Device files

    @Test func aBoardNamingAMissingSerialDeviceFailsAndNamesIt() throws {
        let fixture = try Fixture()
        let missing = fixture.path("ttyUSB9")
        let items = BoardCheck().run(try fixture.board(roles: ["modem": "serial:\(missing)?baud=115200&profile=quectel-ec25"]))

        let modem = try Self.item("modem", in: items)
        #expect(modem.verdict == .fail)
        #expect(modem.detail.contains(missing))
        #expect(modem.detail.contains("no such file"))
        #expect(!BoardCheck.passed(items))
    }

    @Test func aSerialPortThatExistsPassesAndAPlainFileDoesNot() throws {
        let fixture = try Fixture()
        let terminal = try PseudoTerminal.open()
        defer { try? terminal.controller.close() }
        let plain = try fixture.write("notatty", [], mode: 0o600)

        let items = BoardCheck().run(try fixture.board(roles: ["modem": "serial:\(terminal.devicePath)"]))
        let modem = try Self.item("modem", in: items)
        #expect(modem.verdict == .ok, "\(modem)")
        #expect(modem.detail.hasPrefix("serial:\(terminal.devicePath) (rw, "))

        let wrong = try Self.item("modem", in: BoardCheck().run(try fixture.board(roles: ["modem": "serial:\(plain)"])))
        #expect(wrong.verdict == .fail)
        #expect(wrong.detail.contains("not a character device"))
    }

    @Test func simulatedRolesNeedNothingFromTheMachine() throws {
        let fixture = try Fixture()
        let items = BoardCheck().run(try fixture.board(roles: [:]))
        for role in ["button", "position", "modem", "reportLink"] {
            let line = try Self.item(role, in: items)
            #expect(line.verdict == .ok)
            #expect(line.detail.hasSuffix("(simulated)"))
        }
        #expect(BoardCheck.passed(items))
    }

    /// Schemes the checker has no rule for (input, GPIO, LED, power supply backends are added by others): a path
    /// in the port must exist and be usable.
    @Test func unknownSchemesAreCheckedByTheirPath() throws {
        let fixture = try Fixture()
        let event = try fixture.write("event0", [], mode: 0o600)
        let supply = fixture.path("BAT0")
        #expect(mkdir(supply, 0o755) == 0)

        let led = fixture.path("vibe")
        #expect(mkdir(led, 0o755) == 0)
        try fixture.write("vibe/brightness", Array("0\n".utf8), mode: 0o644)

        let items = BoardCheck().run(try fixture.board(roles: [
            "button": "input:\(event)?key=KEY_PROG1",
            "power": "power-supply:\(supply)",
            // /dev/null is a character device everywhere.
            "vibrator": "gpio:/dev/null?line=17",
            "amplifierEnable": "gpio:\(fixture.path("gpiochip7"))?line=4",
        ]))
        #expect(try Self.item("button", in: items).verdict == .ok)
        #expect(try Self.item("button", in: items).detail.contains("(r, "))
        #expect(try Self.item("power", in: items).verdict == .ok)
        #expect(try Self.item("power", in: items).detail.contains("(dir, "))
        #expect(try Self.item("vibrator", in: items).verdict == .ok)
        #expect(try Self.item("vibrator", in: items).detail.contains("(rw, "))
        let amplifier = try Self.item("amplifierEnable", in: items)
        #expect(amplifier.verdict == .fail)
        #expect(amplifier.detail.contains(fixture.path("gpiochip7")))

        // An LED output is checked by the file that drives it; a line number after a device's path leads to it.
        let outputs = BoardCheck().run(try fixture.board(roles: ["vibrator": "led:\(led)", "amplifierEnable": "gpio:/dev/null?line=17"]))
        #expect(try Self.item("vibrator", in: outputs).verdict == .ok)
        #expect(try Self.item("vibrator", in: outputs).detail.contains("(rw, "))
        #expect(try Self.item("amplifierEnable", in: outputs).verdict == .ok)
    }

    // MARK: gpsd

    /// A TCP listener standing in for gpsd: it greets every connection with `banner`, as gpsd does.
    static func fakeGPSD(banner: String) throws -> (port: UInt16, done: DispatchSemaphore, listener: TCPListener) {
        let listener = try TCP.listen(port: 0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            defer { done.signal() }
            guard let client = try? listener.accept() else { return }
            try? client.writeAll(Array(banner.utf8))
            // Held open until the checker has read and closed its end.
            _ = try? client.poll(events: Int16(POLLIN), timeoutMilliseconds: 5000)
            try? client.close()
        }
        return (listener.port, done, listener)
    }

    @Test func aReachableGpsdPassesWithItsRelease() throws {
        let fixture = try Fixture()
        let gpsd = try Self.fakeGPSD(banner: #"{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}"# + "\r\n")
        defer { try? gpsd.listener.descriptor.close() }

        let items = BoardCheck().run(try fixture.board(roles: ["position": "gpsd://127.0.0.1:\(gpsd.port)"]))
        let position = try Self.item("position", in: items)
        #expect(position.verdict == .ok, "\(position)")
        #expect(position.detail == "gpsd://127.0.0.1:\(gpsd.port) (gpsd 3.22)")
        #expect(gpsd.done.wait(timeout: .now() + .seconds(10)) == .success)
    }

    @Test func anUnreachableGpsdFails() throws {
        let fixture = try Fixture()
        // A port that was free a moment ago: nobody listens there now.
        let listener = try TCP.listen(port: 0)
        let port = listener.port
        try listener.descriptor.close()

        let position = try Self.item("position", in: BoardCheck().run(try fixture.board(roles: ["position": "gpsd://127.0.0.1:\(port)"])))
        #expect(position.verdict == .fail)
        #expect(position.detail.contains("not reachable"))
    }

    @Test func aPortThatIsNotGpsdFails() throws {
        let fixture = try Fixture()
        let other = try Self.fakeGPSD(banner: "SSH-2.0-OpenSSH_9.2\r\n")
        defer { try? other.listener.descriptor.close() }

        let position = try Self.item("position", in: BoardCheck().run(try fixture.board(roles: ["position": "gpsd://127.0.0.1:\(other.port)"])))
        #expect(position.verdict == .fail)
        #expect(position.detail.contains("VERSION"))
        #expect(other.done.wait(timeout: .now() + .seconds(10)) == .success)
    }

    // MARK: Key files and directories

    @Test func aKeyFileReadableByOthersFailsAndAnOwnerOnlyOnePasses() throws {
        let fixture = try Fixture()
        let key = [UInt8](repeating: 7, count: 32)
        let open = try fixture.write("open.key", key, mode: 0o644)
        let closed = try fixture.write("closed.key", key, mode: 0o600)

        let bad = try Self.item("storageKey", in: BoardCheck().run(try fixture.board(roles: [:], storageKey: open)))
        #expect(bad.verdict == .fail)
        #expect(bad.detail.contains(open))
        #expect(bad.detail.contains("readable by others"))

        let good = try Self.item("storageKey", in: BoardCheck().run(try fixture.board(roles: [:], storageKey: closed)))
        #expect(good.verdict == .ok, "\(good)")
    }

    @Test func aSecretNamedInAPortsQueryIsCheckedLikeAKeyFile() throws {
        let fixture = try Fixture()
        let terminal = try PseudoTerminal.open()
        defer { try? terminal.controller.close() }
        let pin = try fixture.write("sim.pin", Array("1234\n".utf8), mode: 0o644)

        let items = BoardCheck().run(try fixture.board(roles: ["modem": "serial:\(terminal.devicePath)?baud=115200&pin=\(pin)"]))
        #expect(try Self.item("modem", in: items).verdict == .ok)
        let line = try Self.item("modem.pin", in: items)
        #expect(line.verdict == .fail)
        #expect(line.detail.contains("readable by others"))

        #expect(chmod(pin, 0o400) == 0)
        let fixed = BoardCheck().run(try fixture.board(roles: ["modem": "serial:\(terminal.devicePath)?pin=\(pin)"]))
        #expect(try Self.item("modem.pin", in: fixed).verdict == .ok)
    }

    @Test func reportingKeysAreCheckedForOwnershipAndForm() throws {
        let fixture = try Fixture()
        let dc09 = try fixture.write("dc09.key", Array("00112233445566778899AABBCCDDEEFF".utf8), mode: 0o600)
        let sms = try fixture.write("sms.key", Array("not hex".utf8), mode: 0o600)
        let board = try fixture.board(roles: ["reportLink": "dc09+tcp://192.0.2.1:7510"], extra: """
            reporting: { account: "5A1", prefix: "1", keyFile: "\(dc09)", smsKeyFile: "\(sms)" },
            """)
        let items = BoardCheck().run(board)

        #expect(try Self.item("dc09Key", in: items).verdict == .ok)
        let smsLine = try Self.item("smsKey", in: items)
        #expect(smsLine.verdict == .fail)
        #expect(smsLine.detail == "\(sms): expected 64 hex digits")
        // The centre is never contacted by a check.
        #expect(try Self.item("reportLink", in: items).detail.hasSuffix("(not contacted)"))
    }

    @Test func storageAndControlSocketDirectories() throws {
        let fixture = try Fixture()
        let items = BoardCheck().run(try fixture.board(roles: [:]))
        // Missing but creatable: alarmd makes it 0700 on first start.
        #expect(try Self.item("storage", in: items).verdict == .ok)
        #expect(try Self.item("control", in: items).verdict == .ok)
        // A simulator-style board generates its storage key on first start.
        #expect(try Self.item("storageKey", in: items).detail.hasSuffix("(generated on first start)"))

        #expect(mkdir(fixture.path("state"), 0o755) == 0)
        #expect(chmod(fixture.path("state"), 0o755) == 0)
        let open = try Self.item("storage", in: BoardCheck().run(try fixture.board(roles: [:])))
        #expect(open.verdict == .warn)
        #expect(open.detail.contains("0755"))

        let text = """
            { name: "check", kind: "hil", device: { id: "BE-CHECK-1" }, silence: "no-speaker",
              roles: { button: "sim:", position: "sim:route", modem: "pty:sim", reportLink: "sim:" },
              storage: "\(fixture.path("state"))", controlSocket: "\(fixture.path("run/alarmd.sock"))",
              alarm: { centreNumbers: ["+3292000101"] } }
            """
        let control = try Self.item("control", in: BoardCheck().run(try Board.parse(Array(text.utf8), file: "b.json5")))
        #expect(control.verdict == .warn)
        #expect(control.detail.contains(fixture.path("run")))
    }

    @Test func aFileBackedCaptureOpensAndAMissingPCMFails() throws {
        let fixture = try Fixture()
        let raw = try fixture.write("mic.raw", [UInt8](repeating: 0, count: 32_000), mode: 0o600)
        let config = try fixture.write("mic.conf", Array("""
            pcm.testfile { type file slave.pcm { type null } file "/dev/null" infile "\(raw)" format "raw" }
            pcm.testmic { type plug slave.pcm "testfile" }
            """.utf8), mode: 0o600)
        let items = BoardCheck().run(try fixture.board(roles: [
            "audio": "alsa:testmic?rate=8000&channels=1&period=160&config=\(config)",
        ]))
        let audio = try Self.item("audio", in: items)
        #expect(audio.verdict == .ok, "\(audio)")

        let missing = try Self.item("audio", in: BoardCheck().run(try fixture.board(roles: [
            "audio": "alsa:nosuchpcm?rate=8000&config=\(config)",
        ])))
        #expect(missing.verdict == .fail)
        #expect(missing.detail.contains("nosuchpcm"))
    }
}
