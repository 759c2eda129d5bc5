import AlarmCodecs
import AlarmCore
import Testing

@Suite struct DC09FrameTests {
    static let examples = [
        "\nF4D20029\"SIA-DCS\"0001RF3L77#1234[#1234|NRR|Atest]\r",
        "\n96ED0016\"SIA-DCS\"0001L0#1234[]\r",
        "\nE4410025\"NAK\"0000R0L0A0[]_16:20:01,09-24-2025\r",
    ]

    @Test func crcCheckValue() {
        #expect(CRC16ARC.checksum(Array("123456789".utf8)) == 0xBB3D)
        #expect(CRC16ARC.checksum([]) == 0)
    }

    @Test(arguments: examples)
    func knownFramesWrapAndUnwrap(example: String) throws {
        let frame = Array(example.utf8)
        let body = try DC09Frame.unwrap(frame)
        #expect(try DC09Frame.wrap(body) == frame)
    }

    @Test func corruptionIsNamed() {
        var frame = Array(Self.examples[1].utf8)
        frame[frame.count - 3] = UInt8(ascii: "5")  // #1234 → #1254
        #expect(throws: DC09Frame.FrameError.self) { try DC09Frame.unwrap(frame) }
        do {
            _ = try DC09Frame.unwrap(frame)
        } catch {
            guard case .crcMismatch = error else { Issue.record("expected a CRC mismatch, got \(error)"); return }
        }
        var short = Array(Self.examples[1].utf8)
        short.remove(at: short.count - 2)
        do {
            _ = try DC09Frame.unwrap(short)
            Issue.record("a frame shorter than its length field was accepted")
        } catch {
            #expect(error == .lengthMismatch(declared: 0x16, actual: 0x15))
        }
        #expect(throws: DC09Frame.FrameError.missingLineFeed) { try DC09Frame.unwrap(Array("96ED0016\"x\"\r".utf8)) }
        #expect(throws: DC09Frame.FrameError.badHeader) { try DC09Frame.unwrap(Array("\nZZZZ0016\r".utf8)) }
        #expect(throws: DC09Frame.FrameError.bodyTooLong(0x1000)) { try DC09Frame.wrap([UInt8](repeating: 0x41, count: 0x1000)) }
    }

    @Test func decoderAgreesHoweverTheStreamIsSplit() {
        let stream = Array(("noise" + Self.examples.joined() + "\n\r" + Self.examples[0]).utf8)
        let expected: [DC09FrameDecoder.Item] = Self.examples.map { .frame(Array($0.utf8)) }
            + [.frame(Array("\n\r".utf8)), .frame(Array(Self.examples[0].utf8))]
        for result in decodeEveryWay(stream, { DC09FrameDecoder() }) {
            #expect(result == expected)
        }
    }

    @Test func runawaySenderIsCutOff() {
        var framer = StreamFramer(DC09FrameDecoder())
        let flood = [UInt8]([0x0A]) + [UInt8](repeating: 0x41, count: 5000)
        let items = framer.feed(flood)
        #expect(items.count == 1)
        if case .overlong = items.first {} else { Issue.record("expected overlong, got \(items)") }
        #expect(framer.feed(Array(Self.examples[1].utf8)) == [.frame(Array(Self.examples[1].utf8))])
    }

    @Test func timestamps() {
        let t = WallTime(millisecondsSince1970: 1_758_731_201_000)  // 2025-09-24 16:26:41 UTC
        #expect(DC09Timestamp.format(t) == "_16:26:41,09-24-2025")
        #expect(DC09Timestamp.parse("_16:26:41,09-24-2025") == t)
        #expect(DC09Timestamp.parse("16:26:41,09-24-2025") == t)
        #expect(DC09Timestamp.parse("_24:00:00,09-24-2025") == nil)
        #expect(DC09Timestamp.parse("_16:26:41,02-30-2025") == nil)
        #expect(DC09Timestamp.parse("_1:26:41,09-24-2025") == nil)
        #expect(DC09Timestamp.parse("garbage") == nil)
    }
}

@Suite struct DC09MessageTests {
    let account = DC09Account(receiver: "F3", prefix: "77", account: "1234")

    @Test func bodyMatchesTheKnownExample() throws {
        let message = DC09Message(kind: .siaDCS, sequence: 1, account: account, data: "#1234|NRR|Atest", timestamp: nil)
        #expect(try DC09Frame.wrap(message.body) == Array("\nF4D20029\"SIA-DCS\"0001RF3L77#1234[#1234|NRR|Atest]\r".utf8))
        let null = DC09Message(kind: .siaDCS, sequence: 1, account: DC09Account(receiver: nil, prefix: "0", account: "1234"),
                               data: "", timestamp: nil)
        #expect(try DC09Frame.wrap(null.body) == Array("\n96ED0016\"SIA-DCS\"0001L0#1234[]\r".utf8))
    }

    @Test func encryptedHeadAndTail() {
        let t = WallTime(millisecondsSince1970: 1_758_731_201_000)
        let message = DC09Message(kind: .contactID, sequence: 42, account: account, data: "#1234|1122 00 001",
                                  extended: ["X4.351721", "Y50.850346"], timestamp: t)
        #expect(message.head(encrypted: true) == "\"*ADM-CID\"0042RF3L77#1234")
        #expect(message.tail == "[#1234|1122 00 001][X4.351721][Y50.850346]_16:26:41,09-24-2025")
    }

    @Test func accountFieldsAreChecked() {
        #expect(account.problem == nil)
        #expect(DC09Account(receiver: "1234567", prefix: "1", account: "123").problem?.hasPrefix("receiver") == true)
        #expect(DC09Account(receiver: nil, prefix: "G", account: "123").problem?.hasPrefix("prefix") == true)
        #expect(DC09Account(receiver: nil, prefix: "1", account: "12").problem?.hasPrefix("account") == true)
    }

    @Test func responses() throws {
        let nak = try DC09Frame.unwrap(Array("\nE4410025\"NAK\"0000R0L0A0[]_16:20:01,09-24-2025\r".utf8))
        let parsed = DC09Response.parse(nak)
        #expect(parsed?.kind == .nak)
        #expect(parsed?.sequence == 0)
        #expect(parsed?.timestamp == DC09Timestamp.parse("_16:20:01,09-24-2025"))
        #expect(DC09Response.parse(Array("\"ACK\"0042RF3L77#1234[]".utf8)) == DC09Response(kind: .ack, encrypted: false, sequence: 42, timestamp: nil))
        #expect(DC09Response.parse(Array("\"*ACK\"0042RF3L77#1234[8F3A]".utf8))?.encrypted == true)
        #expect(DC09Response.parse(Array("\"DUH\"0007R0L0#1234[]".utf8))?.kind == .duh)
        #expect(DC09Response.parse(Array("\"WHAT\"0007".utf8)) == nil)
        #expect(DC09Response.parse(Array("\"ACK\"07".utf8)) == nil)
        #expect(DC09Response.parse(Array("garbage".utf8)) == nil)
    }
}

@Suite struct DC09FuzzRegressionTests {
    /// Found by `make fuzz`: a CRC field with a sign ("-441") parsed as a negative number and trapped.
    @Test func signedHeaderFieldsAreABadHeaderNotACrash() throws {
        let frame: [UInt8] = [0x0D, 0x0D, 0x0D, 0x0D, 0x0A, 0x2D, 0x34, 0x34, 0x31, 0x30, 0x2B, 0x30, 0x34, 0x80, 0x52, 0x2B, 0x4C, 0x0D]
        var framer = StreamFramer(DC09FrameDecoder())
        for case .frame(let item) in framer.feed(frame) {
            #expect(throws: DC09Frame.FrameError.badHeader) { try DC09Frame.unwrap(item) }
        }
        #expect(throws: DC09Frame.FrameError.badHeader) { try DC09Frame.unwrap(Array("\n-4410016\"SIA-DCS\"0001L0#1234[]\r".utf8)) }
        #expect(throws: DC09Frame.FrameError.badHeader) { try DC09Frame.unwrap(Array("\n96ED0+16\"SIA-DCS\"0001L0#1234[]\r".utf8)) }
    }
}
