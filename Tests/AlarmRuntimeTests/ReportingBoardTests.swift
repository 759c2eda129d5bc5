import AlarmCodecs
import AlarmCore
import AlarmRuntime
import AlarmSimulation
import CentreSMS
import DC09
import Glibc
import HAL
import Logging
import ModemTestSupport
import PosixIO
import SimBackends
import SimCentre
import Testing

/// The `reporting` section and a DC-09 report link assembled from a board file.
@Suite(.serialized) struct ReportingBoardTests {
    func board(kind: String = "simulator", link: String = "dc09+tcp://127.0.0.1:7599", reporting: String?,
               alarm: String = "", storage: String = "/tmp/alarm-reporting-\(getpid())") -> String {
        """
        { name: "t", kind: "\(kind)", device: { id: "BE-R-1" }, silence: "no-speaker",
          roles: { button: "\(kind == "device" ? "evdev:x" : "sim:")", position: "sim:", modem: "sim:", reportLink: "\(link)", },
          storage: "\(storage)", controlSocket: "/tmp/x.sock", storageKey: "/tmp/k",
          alarm: { centreNumbers: ["+3292000101"], \(alarm) },
          \(reporting.map { "reporting: \($0)," } ?? "") }
        """
    }

    func problem(_ text: String) -> BoardError? {
        do {
            _ = try Board.parse(Array(text.utf8), file: "boards/test.json5")
            return nil
        } catch {
            return error
        }
    }

    func writeKey(_ text: String, mode: mode_t) -> String {
        let path = "/tmp/alarm-dc09-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).key"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        fchmod(fd, mode)
        close(fd)
        return path
    }

    @Test func dc09LinkNeedsItsReportingSection() {
        #expect(problem(board(reporting: nil))?.key == "reporting")
        #expect(problem(board(reporting: "{ prefix: \"1\" }"))?.key == "reporting.account")
        #expect(problem(board(reporting: "{ account: \"12\", prefix: \"1\" }"))?.problem.contains("3-16 hex digits") == true)
        #expect(problem(board(reporting: "{ account: \"A1234\", prefix: \"1\" }"))?.key == "reporting.keyFile")
        #expect(problem(board(reporting: "{ account: \"A1234\", prefix: \"1\", format: \"XML\", encryption: \"none\" }"))?.key == "reporting.format")
        #expect(problem(board(reporting: "{ account: \"A1234\", prefix: \"1\", encryption: \"none\", secondary: \"tcp://x:1\" }"))?.key == "reporting.secondary")
        #expect(problem(board(reporting: "{ account: \"A1234\", prefix: \"1\", encryption: \"none\" }")) == nil)
    }

    @Test func clearTextOnlyOnSimulatorBoards() {
        let e = problem(board(kind: "hil", reporting: "{ account: \"A1234\", prefix: \"1\", encryption: \"none\" }"))
        #expect(e?.key == "reporting.encryption")
        #expect(e?.problem.contains("simulator") == true)
    }

    @Test func keyFileReadableByOthersIsRefusedWithoutShowingTheKey() throws {
        let path = writeKey("0123456789ABCDEF", mode: 0o644)
        defer { unlink(path) }
        let b = try Board.parse(Array(board(reporting: "{ account: \"A1234\", prefix: \"1\", keyFile: \"\(path)\" }").utf8), file: "boards/test.json5")
        do {
            _ = try SimulationAssembly.assemble(b, clock: ManualClock(), logger: Logger(label: "t"), store: InMemoryRecordStore())
            Issue.record("a world-readable key file was accepted")
        } catch {
            #expect(error.key == "reporting.keyFile")
            #expect(error.problem.contains(path))
            #expect(!error.problem.contains("0123456789ABCDEF"))
        }
        let short = writeKey("0123456789ABCDE", mode: 0o600)
        defer { unlink(short) }
        let c = try Board.parse(Array(board(reporting: "{ account: \"A1234\", prefix: \"1\", keyFile: \"\(short)\" }").utf8), file: "boards/test.json5")
        do {
            _ = try SimulationAssembly.assemble(c, clock: ManualClock(), logger: Logger(label: "t"), store: InMemoryRecordStore())
            Issue.record("a 15-digit key was accepted")
        } catch {
            #expect(error.problem.contains("16, 24 or 32"))
            #expect(!error.problem.contains("0123456789ABCDE"))
        }
    }

    @Test func anAlarmOnADC09BoardReachesTheReceiverEncrypted() throws {
        let keyPath = writeKey("00112233445566778899AABBCCDDEEFF", mode: 0o600)
        defer { unlink(keyPath) }
        let received = Collector<DC09Receiver.Received>()
        let receiver = try DC09Receiver(accounts: ["A1234": try DC09Key(text: "00112233445566778899AABBCCDDEEFF", encoding: .binaryHex)]) {
            received.append($0)
        }
        receiver.start()
        defer { receiver.stop() }
        let text = board(link: "dc09+tcp://127.0.0.1:\(receiver.tcpPort)",
                         reporting: "{ account: \"A1234\", prefix: \"2\", receiver: \"3\", keyFile: \"\(keyPath)\", keyEncoding: \"binary-hex\" }")
        let b = try Board.parse(Array(text.utf8), file: "boards/test.json5")
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: Int64(now.tv_sec) * 1000))
        let device = try SimulationAssembly.assemble(b, clock: clock, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
                                                 store: InMemoryRecordStore())
        let timeline = Collector<TimelineRecord>()
        _ = device.runtime.addObserver { timeline.append($0) }
        try device.start()
        defer { device.stop() }
        clock.advance(by: .seconds(2))
        device.simulation.button?.press(holding: .milliseconds(2500))
        clock.advance(by: .milliseconds(2600))
        #expect(received.waitUntil { $0.contains { $0.code == "HA" } })
        let alarm = try #require(received.all.first { $0.code == "HA" })
        #expect(alarm.encrypted && alarm.account == "A1234" && alarm.messageType == "SIA-DCS")
        #expect(alarm.detail["dev"] == "BE-R-1")
        #expect(alarm.detail["sig"] != nil, "the modem's signal travels in the detail block")
        #expect(timeline.waitUntil { $0.contains { $0.category == .reportAck } }, "the link's ACK reaches the core")
    }

    @Test func fallbackSMSAreSealedUnlessPlainIsAskedFor() {
        let sms = "smsNumber: \"+3292000199\","
        let hil = problem(board(kind: "hil", reporting: "{ account: \"A1234\", prefix: \"1\", keyFile: \"/k\" }", alarm: sms))
        #expect(hil?.key == "reporting.smsKeyFile")
        #expect(problem(board(kind: "hil", reporting: "{ account: \"A1234\", prefix: \"1\", keyFile: \"/k\", smsFormat: \"plain\" }", alarm: sms)) == nil)
        #expect(problem(board(kind: "hil", reporting: "{ account: \"A1234\", prefix: \"1\", keyFile: \"/k\", smsFormat: \"morse\" }", alarm: sms))?.key == "reporting.smsFormat")
    }

    @Test func simulatorBoardSealsItsFallbackSMSWithAGeneratedKey() throws {
        let storage = "/tmp/alarm-sms-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = storage.withCString { rmdir($0) } }
        defer { unlink(storage + "/sms.key"); unlink(storage + "/state") }
        // The report link points nowhere: after smsFallbackAfter the alarm goes by SMS.
        let text = board(link: "dc09+tcp://127.0.0.1:9", reporting: "{ account: \"A1234\", prefix: \"1\", encryption: \"none\" }",
                         alarm: "smsNumber: \"+3292000199\", smsFallbackAfter: \"5s\",", storage: storage)
        let b = try Board.parse(Array(text.utf8), file: "boards/test.json5")
        let clock = ManualClock()
        let device = try SimulationAssembly.assemble(b, clock: clock, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
                                                 store: InMemoryRecordStore())
        try device.start()
        defer { device.stop() }
        clock.advance(by: .seconds(2))
        device.simulation.button?.press(holding: .milliseconds(2500))
        clock.advance(by: .milliseconds(2600))
        clock.advance(by: .seconds(6))
        let modem = try #require(device.simulation.modem)
        let timeline = Collector<TimelineRecord>()
        _ = device.runtime.addObserver(replay: true) { timeline.append($0) }
        #expect(timeline.waitUntil { _ in !modem.sentMessages.isEmpty })
        let sent = try #require(modem.sentMessages.first)
        #expect(sent.to == "+3292000199")
        #expect(sent.text.hasPrefix("AL1 BE-R-1 1 "))
        let keyText = String(decoding: try #require(try? SecretFile.read(storage + "/sms.key")), as: UTF8.self)
        let decoded = try SMSReport.decode(sent.text, key: try SMSKey(text: keyText))
        #expect(decoded.fields["k"] == "HA")
        #expect(decoded.fields["q"] != nil, "the signal travels in the sealed SMS")
    }
}
