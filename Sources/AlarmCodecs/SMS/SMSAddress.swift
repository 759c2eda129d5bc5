/// TP-Destination-Address (3GPP TS 23.040 9.1.2.5): digit count, type of address, then the
/// digits as swapped semi-octets.
enum SMSAddress {
    static let international: UInt8 = 0x91
    static let unknownISDN: UInt8 = 0x81

    /// 20 digits is what the 10 address-value octets of 9.1.2.5 can hold.
    static let maximumDigits = 20

    /// Only "+" and digits: separators or letters in a configured number are a configuration
    /// mistake, and silently dropping them could send an alarm to the wrong person.
    static func encode(_ number: String) throws(SMSPDUError) -> [UInt8] {
        var digits = Array(number.utf8)
        let isInternational = digits.first == UInt8(ascii: "+")
        if isInternational {
            digits.removeFirst()
        }
        guard !digits.isEmpty, digits.count <= maximumDigits,
              digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw .invalidNumber(number)
        }
        var octets = [UInt8(digits.count), isInternational ? international : unknownISDN]
        var index = 0
        while index < digits.count {
            let low = digits[index] - UInt8(ascii: "0")
            // An odd count leaves the last high semi-octet empty; 23.040 fills it with 1111.
            let high = index + 1 < digits.count ? digits[index + 1] - UInt8(ascii: "0") : 0x0F
            octets.append(high << 4 | low)
            index += 2
        }
        return octets
    }

    /// "+" and the digits for an international TON, the bare digits otherwise, so that the
    /// result can be compared directly with the number the driver was asked to use.
    static func decode(digitCount: Int, typeOfAddress: UInt8, octets: ArraySlice<UInt8>) throws(SMSPDUError) -> String {
        let typeOfNumber = (typeOfAddress >> 4) & 0x07
        guard typeOfNumber != 0b101 else {
            throw .malformed("alphanumeric destination address")
        }
        var text = typeOfNumber == 0b001 ? "+" : ""
        for index in 0..<digitCount {
            let octet = octets[octets.startIndex + index / 2]
            let semiOctet = index % 2 == 0 ? octet & 0x0F : octet >> 4
            guard let character = character(forSemiOctet: semiOctet) else {
                throw .malformed("filler semi-octet inside the destination address")
            }
            text.append(character)
        }
        if digitCount % 2 == 1, let last = octets.last, last >> 4 != 0x0F {
            throw .malformed("destination address filler is not F")
        }
        return text
    }

    /// 23.040 9.1.2.3 also allows *, #, a, b, c; a modem emulator should show them, not reject them.
    private static func character(forSemiOctet value: UInt8) -> Character? {
        switch value {
        case 0...9: Character(Unicode.Scalar(UInt8(ascii: "0") + value))
        case 0x0A: "*"
        case 0x0B: "#"
        case 0x0C: "a"
        case 0x0D: "b"
        case 0x0E: "c"
        default: nil
        }
    }
}
