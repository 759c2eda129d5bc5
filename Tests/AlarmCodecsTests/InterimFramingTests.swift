import AlarmCodecs
import AlarmCore
import Testing

@Suite struct InterimFramingTests {
    let fix = Fix(latitude: 50.8466, longitude: 4.3528, horizontalAccuracy: 8,
                  fixTime: WallTime(millisecondsSince1970: 1_795_000_000_000), source: .lastKnown)
    var report: Report {
        Report(sequence: 42, kind: .positionUpdate, alarmNumber: 3, position: fix, positionAge: .milliseconds(2500),
               previousPositions: [Fix(latitude: 50.84, longitude: 4.35, horizontalAccuracy: 0,
                                       fixTime: WallTime(millisecondsSince1970: 0))],
               cell: CellInfo(mcc: 206, mnc: 1, areaCode: 1001, cellID: 1_715_004, accessTechnology: "LTE"))
    }

    @Test func reportRoundTrips() throws {
        let frame = ReportFrame(deviceID: "BE-SIM-0001", sentAt: WallTime(millisecondsSince1970: 1_795_000_001_000), report: report)
        let bytes = InterimFraming.encode(frame)
        #expect(bytes.last == 0x0A)
        #expect(bytes.filter { $0 == 0x0A }.count == 1)
        var framer = StreamFramer(ReportFrameDecoder())
        let decoded = try #require(framer.feed(bytes).first).get()
        #expect(decoded == frame)
    }

    @Test func reportWithoutPositionRoundTrips() throws {
        let bare = Report(sequence: 1, kind: .alarm, alarmNumber: 1, position: nil, positionAge: nil,
                          previousPositions: [], cell: nil)
        let frame = ReportFrame(deviceID: "D1", sentAt: WallTime(millisecondsSince1970: 5), report: bare)
        #expect(try InterimFraming.decodeReport(Array(InterimFraming.encode(frame).dropLast())).get() == frame)
    }

    @Test func centreMessagesDecodeIdenticallyHoweverTheStreamIsSplit() {
        var input: [UInt8] = []
        input += InterimFraming.encode(.ack(sequence: 1))
        input += Array("garbage\r\n\n".utf8)
        input += Array(repeating: UInt8(ascii: "x"), count: 700) + [0x0A]
        input += InterimFraming.encode(.nak(sequence: 9999))
        input += Array("ACK 0\r\nACK 12\r\n".utf8)
        input += InterimFraming.encode(.command(.endAlarm))
        input += Array("ACK 7".utf8)  // incomplete: must stay pending
        let runs = decodeEveryWay(input, CentreMessageDecoder.init)
        let valid = runs.map { run in run.compactMap { try? $0.get() } }
        for run in valid {
            #expect(run == [.ack(sequence: 1), .nak(sequence: 9999), .ack(sequence: 12), .command(.endAlarm)])
        }
        let failures = runs.map { run in run.filter { (try? $0.get()) == nil }.count }
        // "garbage", the empty line, the overlong line and "ACK 0" are each reported once.
        #expect(Set(failures) == [4])
    }

    @Test func reportFramesDecodeIdenticallyHoweverTheStreamIsSplit() {
        var input: [UInt8] = []
        var expected: [ReportFrame] = []
        for sequence in 1...5 {
            var r = report
            r.sequence = sequence
            let frame = ReportFrame(deviceID: "BE-SIM-0001", sentAt: WallTime(millisecondsSince1970: Int64(sequence)), report: r)
            expected.append(frame)
            input += InterimFraming.encode(frame)
            input += Array("REPORT v=2 dev=x\n".utf8)
        }
        for run in decodeEveryWay(input, ReportFrameDecoder.init) {
            #expect(run.compactMap { try? $0.get() } == expected)
            #expect(run.count == 10)
        }
    }

    @Test func invalidReportsAreRejectedWithAReason() {
        let cases = ["REPORT v=1 dev=x seq=0 alarm=1 kind=alarm sent=1", "REPORT v=1 dev=x seq=1 alarm=1 kind=party sent=1",
                     "REPORT v=1 dev=x seq=1 alarm=1 kind=alarm sent=1 pos=1,2", "HELLO", "REPORT v=1 nonsense"]
        for text in cases {
            guard case .failure(let error) = InterimFraming.decodeReport(Array(text.utf8)) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(!error.reason.isEmpty)
        }
    }

    @Test func lineDecoderBoundsMemory() {
        var framer = StreamFramer(LineDecoder(maximumLength: 64))
        for _ in 0..<100 { _ = framer.feed(Array(repeating: UInt8(ascii: "a"), count: 50)) }
        #expect(framer.pendingByteCount <= 64)
        #expect(framer.feed([0x0A, 0x62, 0x0A]) == [.overlong(discarded: 5000), .line([0x62])])
    }
}
