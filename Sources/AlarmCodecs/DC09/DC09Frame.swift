/// The outer shape of a SIA DC-09 message: `<LF> CRC(4 hex) 0LLL <body> <CR>`, where the CRC (CRC-16/ARC) and the
/// length (three hex digits after a `0`) cover the body: from the opening `"` up to, not including, the `<CR>`.
/// The body is `"ID"SEQ R… L… #ACCT [data]…_HH:MM:SS,MM-DD-YYYY`; this type only frames it, the message types
/// above give it meaning.
public enum DC09Frame {
    public static let lineFeed: UInt8 = 0x0A
    public static let carriageReturn: UInt8 = 0x0D
    /// The length field has three hex digits.
    public static let maximumBodyLength = 0xFFF

    public enum FrameError: Error, Hashable, Sendable {
        case missingLineFeed
        case badHeader
        case lengthMismatch(declared: Int, actual: Int)
        case crcMismatch(declared: UInt16, actual: UInt16)
        case bodyTooLong(Int)
    }

    /// The whole frame for `body`, ready for one write.
    public static func wrap(_ body: [UInt8]) throws(FrameError) -> [UInt8] {
        guard body.count <= maximumBodyLength else { throw .bodyTooLong(body.count) }
        let crc = CRC16ARC.checksum(body)
        var frame = [lineFeed]
        frame += Array(hex(Int(crc), digits: 4).utf8)
        frame += Array(("0" + hex(body.count, digits: 3)).utf8)
        frame += body
        frame.append(carriageReturn)
        return frame
    }

    /// Checks CRC and length of one frame (with or without its trailing CR) and returns its body.
    public static func unwrap(_ frame: [UInt8]) throws(FrameError) -> [UInt8] {
        var bytes = frame[...]
        guard bytes.first == lineFeed else { throw .missingLineFeed }
        bytes = bytes.dropFirst()
        if bytes.last == carriageReturn { bytes = bytes.dropLast() }
        // Hex digits only: Int(_:radix:) would also take a sign ("-441"), and a negative CRC trapped (found by fuzzing).
        func hexValue(_ digits: ArraySlice<UInt8>) -> Int? {
            guard digits.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
            return Int(String(decoding: digits, as: UTF8.self), radix: 16)
        }
        guard bytes.count >= 8, let crc = hexValue(bytes.prefix(4)),
              bytes[bytes.startIndex + 4] == UInt8(ascii: "0"),
              let length = hexValue(bytes.dropFirst(5).prefix(3)) else {
            throw .badHeader
        }
        let body = Array(bytes.dropFirst(8))
        guard body.count == length else { throw .lengthMismatch(declared: length, actual: body.count) }
        let actual = CRC16ARC.checksum(body)
        guard actual == UInt16(crc) else { throw .crcMismatch(declared: UInt16(crc), actual: actual) }
        return body
    }

    static func hex(_ value: Int, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// Splits a byte stream into DC-09 frames: from a LF to the next CR. Bytes before a LF are noise and dropped;
/// a frame longer than any valid one is dropped whole, so one runaway sender cannot make us buffer without bound.
public struct DC09FrameDecoder: ByteStreamDecoder {
    public enum Item: Hashable, Sendable {
        case frame([UInt8])
        case overlong(discarded: Int)
    }

    /// LF + CRC + length + the longest body + CR.
    static let maximumFrame = 1 + 8 + DC09Frame.maximumBodyLength + 1

    public init() {}

    public mutating func decode(_ buffer: inout [UInt8]) -> Item? {
        guard let start = buffer.firstIndex(of: DC09Frame.lineFeed) else {
            buffer.removeAll()  // no frame starts in it: noise (e.g. the bare "\n\r" some receivers send is handled below)
            return nil
        }
        if start > 0 { buffer.removeFirst(start) }
        guard let end = buffer.firstIndex(of: DC09Frame.carriageReturn) else {
            if buffer.count > Self.maximumFrame {
                let discarded = buffer.count
                buffer.removeAll()
                return .overlong(discarded: discarded)
            }
            return nil
        }
        let frame = Array(buffer[...end])
        buffer.removeFirst(end + 1)
        return .frame(frame)
    }
}
