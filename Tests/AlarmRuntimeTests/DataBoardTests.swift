import ATModem
import AlarmCore
import AlarmRuntime
import AlarmSimulation
import Glibc
import PosixIO
import Logging
import SimBackends
import Testing

/// The `data` section of a board file: every mistake names the key and what was expected.
@Suite struct DataBoardTests {
    func board(_ data: String, modem: String = "pty:sim", alarm: String = "") -> String {
        """
        { name: "t", kind: "simulator", device: { id: "D-1" }, silence: "no-speaker",
          roles: { button: "sim:", position: "sim:", modem: "\(modem)", reportLink: "tcp://127.0.0.1:7999", },
          storage: "/tmp/x", controlSocket: "/tmp/x.sock",
          alarm: { centreNumbers: ["+3292000101"], \(alarm) },
          data: \(data), }
        """
    }

    func parse(_ text: String) throws(BoardError) -> Board {
        try Board.parse(Array(text.utf8), file: "boards/test.json5")
    }

    func problem(_ text: String) -> BoardError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func fullSectionIsRead() throws {
        let b = try parse(board("""
            { apn: "internet.proximus.be", auth: "chap", user: "alarm", passwordFile: "/etc/alarmd/apn.secret",
              pdpType: "ipv4v6", cid: 2, activation: "vendor", interface: "wwan0", dataDuringCalls: "lte" }
            """, alarm: "smsNumber: \"+3292000199\", positionSMSInterval: \"90s\","))
        let data = try #require(b.data)
        #expect(data.call.apn == "internet.proximus.be")
        #expect(data.call.authentication == .chap)
        #expect(data.call.user == "alarm")
        #expect(data.call.password == nil)  // read from the file at assembly, never held by the board
        #expect(data.passwordFile == "/etc/alarmd/apn.secret")
        #expect(data.call.pdpType == .ipv4v6)
        #expect(data.call.cid == 2)
        #expect(data.call.activation == .vendor)
        #expect(data.interface == "wwan0")
        #expect(data.dataDuringCalls == .lte)
        #expect(b.alarm.smsFallbackNumber == "+3292000199")
        #expect(b.alarm.positionSMSInterval == .seconds(90))
    }

    @Test(arguments: [
        ("{ }", "data.apn", "access point name"),
        ("{ apn: \"bad apn!\" }", "data.apn", "letters, digits"),
        ("{ apn: \"a\", auth: \"kerberos\" }", "data.auth", "none, pap, chap"),
        ("{ apn: \"a\", auth: \"pap\", user: \"u\" }", "data.passwordFile", "missing"),
        ("{ apn: \"a\", pdpType: \"X25\" }", "data.pdpType", "IP, IPV6, IPV4V6"),
        ("{ apn: \"a\", cid: 0 }", "data.cid", "1"),
        ("{ apn: \"a\", activation: \"magic\" }", "data.activation", "3gpp"),
        ("{ apn: \"a\", interface: \"an-interface-name-too-long\" }", "data.interface", "1-15"),
        ("{ apn: \"a\", dataDuringCalls: \"sometimes\" }", "data.dataDuringCalls", "lte, lte-umts, all"),
        ("{ apn: \"a\", path: \"modem-stack\" }", "data.path", "not supported yet"),
        ("{ apn: \"a\", apm: \"typo\" }", "data.apm", "unknown key"),
    ])
    func mistakesAreNamed(section: String, key: String, expectation: String) {
        let e = problem(board(section))
        #expect(e?.file == "boards/test.json5")
        #expect(e?.key == key)
        #expect(e?.problem.contains(expectation) == true, "\(e?.problem ?? "no error")")
    }

    @Test func simulatedModemCannotCarryData() {
        let text = board("{ apn: \"a\" }", modem: "sim:")
        do {
            let b = try parse(text)
            _ = try SimulationAssembly.assemble(b, clock: ManualClock(), logger: Logger(label: "t"), store: InMemoryRecordStore())
            Issue.record("a data section on a sim: modem was accepted")
        } catch {
            #expect(error.key == "data")
        }
    }

    @Test func apnPasswordFileMustBeOwnerOnly() throws {
        let path = "/tmp/alarm-apn-\(getpid()).secret"
        defer { unlink(path) }
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        #expect(fd >= 0)
        _ = "s3cret\n".withCString { write(fd, $0, 7) }
        close(fd)
        let text = board("{ apn: \"a\", auth: \"chap\", user: \"u\", passwordFile: \"\(path)\" }")
        let b = try parse(text)
        do {
            _ = try SimulationAssembly.assemble(b, clock: ManualClock(), logger: Logger(label: "t"), store: InMemoryRecordStore())
            Issue.record("a world-readable password file was accepted")
        } catch {
            #expect(error.key == "data.passwordFile")
            #expect(error.problem.contains(path))
            #expect(!error.problem.contains("s3cret"))
        }
    }
}

@Suite struct BoardFuzzRegressionTests {
    /// Found by `make fuzz`: malformed UTF-8 in an unquoted key trapped inside FoundationEssentials' JSON5 scanner.
    @Test func invalidUTF8IsAClearErrorNotACrash() throws {
        var bytes = Array("// comment\n{ name: \"t\", ".utf8)
        bytes += [0x6B, 0x80, 0x65, 0x79]  // k<0x80>ey
        bytes += Array(": 1 }".utf8)
        do {
            _ = try Board.parse(bytes, file: "boards/broken.json5")
            Issue.record("a board file with invalid UTF-8 was accepted")
        } catch {
            #expect(error.file == "boards/broken.json5")
            #expect(error.problem.contains("UTF-8"))
        }
    }
}

/// The board loader under mutation (a libFuzzer-style run inside `make test`; `make fuzz` drives the JSON5 layer with
/// libFuzzer): thousands of damaged copies of the shipped boards either load or fail with a BoardError naming the
/// file, never a crash.
@Suite struct BoardMutationTests {
    @Test func damagedBoardsFailCleanly() throws {
        let root = BoardFileTests.repository
        var seed: UInt64 = 0x5EED
        func next() -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return seed >> 33
        }
        var loaded = 0, refused = 0
        for name in ["boards/sim.json5", "boards/sim-scripted.json5"] {
            let original = try #require(try StorageDirectory.readFile(root + "/" + name))
            let interesting = Array("{}[]\":,0-+.e\\/*\n tfn".utf8) + [0x80, 0xFF, 0xC3, 0x00]
            for _ in 0..<2500 {
                var bytes = original
                for _ in 0..<(1 + next() % 4) {
                    let at = Int(next() % UInt64(max(bytes.count, 1)))
                    switch next() % 4 {
                    case 0: if !bytes.isEmpty { bytes.remove(at: at) }
                    case 1: bytes.insert(interesting[Int(next() % UInt64(interesting.count))], at: min(at, bytes.count))
                    case 2: if !bytes.isEmpty { bytes[at] = interesting[Int(next() % UInt64(interesting.count))] }
                    default: if !bytes.isEmpty { bytes.removeSubrange(at..<min(bytes.count, at + Int(next() % 40))) }
                    }
                }
                do {
                    _ = try Board.parse(bytes, file: name)
                    loaded += 1
                } catch {
                    #expect(error.file == name)
                    #expect(!error.problem.isEmpty)
                    refused += 1
                }
            }
        }
        #expect(loaded + refused == 5000)
        #expect(refused > 0)
    }
}
