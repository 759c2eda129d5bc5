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
