/// The shape of a centre command SMS, `ALC1 <device> <counter> <verb> [argument] <mac>`, parsed without judging it:
/// the MAC is checked by CentreSMS, which holds the key. Pure, so the fuzzer can drive it.
public struct SMSCommandText: Sendable, Hashable {
    public static let tag = "ALC1"

    public enum ParseError: Error, Sendable, Hashable {
        case notACommand
        case malformed
    }

    public var deviceID: String
    public var counter: UInt64
    public var verb: String
    public var argument: Int?
    /// The MAC as sent (16 bytes).
    public var mac: [UInt8]

    public static func parse(_ text: String) throws(ParseError) -> SMSCommandText {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.first == Substring(tag) else { throw .notACommand }
        guard (5...6).contains(parts.count), !parts[1].isEmpty, parts[2].allSatisfy({ $0.isASCII && $0.isNumber }),
              let counter = UInt64(parts[2]), !parts[3].isEmpty else { throw .malformed }
        var argument: Int?
        if parts.count == 6 {
            guard parts[4].allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(parts[4]) else { throw .malformed }
            argument = value
        }
        guard let mac = Base64.decode(parts[parts.count - 1]), mac.count == 16 else { throw .malformed }
        return SMSCommandText(deviceID: String(parts[1]), counter: counter, verb: String(parts[3]), argument: argument, mac: mac)
    }
}

/// Standard base64 (RFC 4648, with padding), strict: anything else is nil.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3)
        var index = 0
        while index < bytes.count {
            var values: [UInt8] = []
            var padding = 0
            for offset in 0..<4 {
                let byte = bytes[index + offset]
                if byte == UInt8(ascii: "=") {
                    // Padding only at the very end, and at most two.
                    guard index + 4 == bytes.count, offset >= 2 else { return nil }
                    padding += 1
                    values.append(0)
                } else {
                    guard padding == 0, let value = alphabet.firstIndex(of: byte) else { return nil }
                    values.append(UInt8(value))
                }
            }
            let triple = UInt32(values[0]) << 18 | UInt32(values[1]) << 12 | UInt32(values[2]) << 6 | UInt32(values[3])
            out.append(UInt8(triple >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(triple >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(triple & 0xFF)) }
            index += 4
        }
        return out
    }
}
