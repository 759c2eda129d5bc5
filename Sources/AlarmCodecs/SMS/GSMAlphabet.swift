/// The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 6.2.1 and 6.2.1.1).
///
/// Works on Unicode scalars, not Characters: "\r\n" is one Character in Swift but two septets
/// on the air, and a combining accent must make the whole text fall back to UCS-2 rather than
/// be matched as part of a grapheme.
enum GSMAlphabet {
    /// Switches the next septet to the extension table.
    static let escape: UInt8 = 0x1B

    /// Indexed by septet. 0x09 is the capital Ç of the current table (older documents show ç);
    /// the escape position holds a placeholder that `septets(for:)` never matches.
    static let defaultTable: [Unicode.Scalar] = Array((
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    ).unicodeScalars)

    /// Septet after the escape → character. 0x0D (a second CR) and 0x1B (a further extension)
    /// are left out: nothing needs to send them and decoding treats them as below.
    static let extensionTable: [UInt8: Unicode.Scalar] = [
        0x0A: "\u{0C}", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
        0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
    ]

    private static let defaultSeptets: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (septet, scalar) in defaultTable.enumerated() where UInt8(septet) != escape {
            map[scalar] = UInt8(septet)
        }
        return map
    }()

    private static let extensionSeptets: [Unicode.Scalar: UInt8] =
        Dictionary(uniqueKeysWithValues: extensionTable.map { ($0.value, $0.key) })

    /// One or two septets per scalar, or nil as soon as one scalar is not representable: the
    /// whole message then goes as UCS-2, since one message cannot mix the two codings.
    static func septets(for text: String) -> [[UInt8]]? {
        var units: [[UInt8]] = []
        for scalar in text.unicodeScalars {
            if let septet = defaultSeptets[scalar] {
                units.append([septet])
            } else if let septet = extensionSeptets[scalar] {
                units.append([escape, septet])
            } else {
                return nil
            }
        }
        return units
    }

    static func decode(_ septets: some Sequence<UInt8>) throws(SMSPDUError) -> String {
        var text = String.UnicodeScalarView()
        var escaped = false
        for septet in septets {
            if escaped {
                escaped = false
                if let scalar = extensionTable[septet] {
                    text.append(scalar)
                } else if septet == escape {
                    // 23.038: reserved for a further extension table; show a space until one exists.
                    text.append(" ")
                } else {
                    // 23.038: a code missing from the extension table shows as its default-table character.
                    text.append(defaultTable[Int(septet)])
                }
            } else if septet == escape {
                escaped = true
            } else {
                text.append(defaultTable[Int(septet)])
            }
        }
        guard !escaped else {
            // Our encoder never splits an escape pair; a part that ends in one was cut wrongly.
            throw .malformed("user data ends with an escape septet")
        }
        return String(text)
    }
}
