import AlarmCodecs
import Testing

/// The byte-level AT decoder, checked through `decodeEveryWay` so every split of the input must agree.
@Suite struct ATStreamDecoderTests {
    func decode(_ input: [UInt8], maximumLineLength: Int = 1024) -> [ATLine] {
        let runs = decodeEveryWay(input) { ATStreamDecoder(maximumLineLength: maximumLineLength) }
        for run in runs.dropFirst() { #expect(run == runs[0]) }
        return runs[0]
    }

    func decode(_ text: String) -> [ATLine] { decode(Array(text.utf8)) }

    @Test func echoOnTranscript() {
        let lines = decode("AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n")
        #expect(lines == [.text("AT+CSQ"), .text("+CSQ: 21,99"), .text("OK")])
        #expect(lines[0].isEcho(of: "AT+CSQ"))
        #expect(lines[0].isEcho(of: "at+csq\r"))
        #expect(!lines[1].isEcho(of: "AT+CSQ"))
        #expect(!ATLine.prompt.isEcho(of: "AT+CSQ"))
    }

    @Test func urcsInterleavedInAResponse() {
        let lines = decode("AT+CLCC\r\r\n+CLCC: 1,0,3,0,0,\"+3292000101\",145\r\n\r\nRING\r\n\r\n"
            + "+CLIP: \"+32470123456\",145,,,,0\r\n\r\nOK\r\n")
        #expect(lines == [.text("AT+CLCC"), .text("+CLCC: 1,0,3,0,0,\"+3292000101\",145"), .text("RING"),
                          .text("+CLIP: \"+32470123456\",145,,,,0"), .text("OK")])
        #expect(lines.map { line -> Bool in
            guard case .text(let text) = line else { return false }
            return ATUnsolicited.isAlwaysUnsolicited(text)
        } == [false, false, true, true, false])
    }

    @Test func promptAfterCMGS() {
        let lines = decode("AT+CMGS=23\r\r\n> 0011000B911032547698F00000AA0AE8329BFD4697D9EC37\r\n+CMGS: 12\r\n\r\nOK\r\n")
        #expect(lines == [.text("AT+CMGS=23"), .prompt, .text("0011000B911032547698F00000AA0AE8329BFD4697D9EC37"),
                          .text("+CMGS: 12"), .text("OK")])
    }

    @Test func promptIsDeliveredWithoutALineEnding() {
        // The modem waits after "> ": nothing follows until we send the PDU, so the prompt must come out now.
        #expect(decode("\r\n> ") == [.prompt])
        var framer = StreamFramer(ATStreamDecoder())
        #expect(framer.feed(Array("\r\n>".utf8)) == [])
        #expect(framer.feed(Array(" ".utf8)) == [.prompt])
        #expect(framer.pendingByteCount == 0)
    }

    @Test func greaterThanIsTextUnlessItIsThePrompt() {
        #expect(decode(">x\r\n>\r\na > b\r\n") == [.text(">x"), .text(">"), .text("a > b")])
        // After the prompt we are mid-line, so a second "> " is part of the text.
        #expect(decode("> > x\r\n") == [.prompt, .text("> x")])
    }

    @Test func everyLineEndingStyle() {
        let expected: [ATLine] = [.text("+CREG: 1"), .text("OK")]
        #expect(decode("+CREG: 1\r\nOK\r\n") == expected)
        #expect(decode("+CREG: 1\nOK\n") == expected)
        #expect(decode("+CREG: 1\rOK\r") == expected)
        #expect(decode("\n\r+CREG: 1\n\rOK\n\r") == expected)
        #expect(decode("\r\r\n\n  +CREG: 1  \r\n \t \r\n\tOK\r") == expected)
    }

    @Test func anUnterminatedLineStaysPending() {
        var framer = StreamFramer(ATStreamDecoder())
        #expect(framer.feed(Array("OK\r\n+CSQ: 1".utf8)) == [.text("OK")])
        #expect(framer.pendingByteCount == 7)
        #expect(framer.feed([0x0D]) == [.text("+CSQ: 1")])
    }

    @Test func garbageIsDroppedAndTheNextLineSurvives() {
        var input: [UInt8] = []
        input += [0x00, 0xFF, 0xFE, 0x0D, 0x0A]               // boot noise
        input += Array("RDY\r\n".utf8)
        input += Array("AB".utf8) + [0x07] + Array("CD\r\n".utf8)  // BEL inside a line
        input += [0xC3, 0x28, 0x0A]                           // invalid UTF-8
        input += Array(repeating: 0x55, count: 5000)           // runaway line
        input += Array("\r\n+CSQ: 21,99\r\n".utf8)
        input += Array(repeating: 0xFF, count: 5000) + [0x0A]  // runaway invalid bytes
        input += Array("OK\r\n".utf8)
        #expect(decode(input) == [.garbage(3), .text("RDY"), .garbage(5), .garbage(2), .garbage(5000),
                                  .text("+CSQ: 21,99"), .garbage(5000), .text("OK")])
    }

    @Test func memoryStaysBoundedDuringARunawayLine() {
        var framer = StreamFramer(ATStreamDecoder(maximumLineLength: 64))
        var largest = 0
        for _ in 0..<5000 {
            #expect(framer.feed([0x41]) == [])
            largest = max(largest, framer.pendingByteCount)
        }
        #expect(largest <= 65)
        #expect(framer.feed(Array("\r\nOK\r\n".utf8)) == [.garbage(5000), .text("OK")])
    }

    @Test func aLineAtTheBoundIsKeptAndOneByteMoreIsDropped() {
        let atBound = String(repeating: "A", count: 16)
        let over = String(repeating: "B", count: 17)
        #expect(decode(Array("\(atBound)\r\n\(over)\r\nOK\r\n".utf8), maximumLineLength: 16)
                == [.text(atBound), .garbage(17), .text("OK")])
    }

    @Test func utf8TextSurvives() {
        #expect(decode("+COPS: 0,0,\"Orange België\",7\r\n") == [.text("+COPS: 0,0,\"Orange België\",7")])
    }

    @Test func aFullBootAndCallTranscript() {
        let transcript = "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"
            + "\r\n+QIND: PB DONE\r\nATD+3292000101;\r\r\nOK\r\n\r\n+CLCC: 1,0,2,0,0,\"+3292000101\",145\r\n"
            + "\r\n+CEREG: 5,\"0C4E\",\"0177A20B\",7\r\n\r\nNO CARRIER\r\n"
        let lines = decode(transcript)
        #expect(lines.count == 11)
        #expect(lines.allSatisfy { if case .text = $0 { true } else { false } })
        #expect(lines.last == .text("NO CARRIER"))
    }
}
