/// AT+CMGS in PDU mode takes the PDU as hex digits, not as raw octets.
enum SMSHex {
    private static let digits = Array("0123456789ABCDEF".utf8)

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var characters: [UInt8] = []
        for byte in bytes {
            characters.append(digits[Int(byte >> 4)])
            characters.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// Accepts lowercase too: modems and emulators differ, and case carries no meaning.
    static func decode(_ hex: String) throws(SMSPDUError) -> [UInt8] {
        let characters = Array(hex.utf8)
        guard characters.count % 2 == 0 else {
            throw .malformed("odd number of hex digits (\(characters.count))")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            bytes.append(try nibble(characters[index], at: index) << 4 | nibble(characters[index + 1], at: index + 1))
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8, at offset: Int) throws(SMSPDUError) -> UInt8 {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        default: throw .malformed("not a hex digit at offset \(offset)")
        }
    }
}
