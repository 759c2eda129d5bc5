/// TP-DCS, TP-UDL and TP-UD of one part (3GPP TS 23.040 9.2.3.16, 9.2.3.24).
struct SMSUserData: Hashable {
    static let gsm7Coding: UInt8 = 0x00
    static let ucs2Coding: UInt8 = 0x08

    /// TP-UD is at most 140 octets; everything else derives from it.
    static let maximumOctets = 140
    /// 05 00 03 ref total seq: IEI 0x00, the 8-bit-reference concatenation (23.040 9.2.3.24.1).
    static let concatenationHeaderOctets = 6

    var dataCodingScheme: UInt8
    /// Septets for GSM 7-bit (header and fill bits included), octets for UCS-2.
    var length: UInt8
    var octets: [UInt8]
    var hasHeader: Bool

    /// GSM 7-bit when every scalar is in the default alphabet or its extension, else UCS-2.
    static func parts(for text: String, reference: UInt8) throws(SMSPDUError) -> [SMSUserData] {
        if let units = GSMAlphabet.septets(for: text) {
            return try gsm7Parts(units, reference: reference)
        }
        return try ucs2Parts(text.unicodeScalars.map { Array($0.utf16) }, reference: reference)
    }

    /// 160 septets single, 153 after the 6-octet header (which with its fill bit takes 7 septets).
    private static func gsm7Parts(_ units: [[UInt8]], reference: UInt8) throws(SMSPDUError) -> [SMSUserData] {
        let headerSeptets = SeptetPacking.septetCount(ofHeaderOctets: concatenationHeaderOctets)
        let ranges = try SMSSegmentation.parts(widths: units.map(\.count),
                                               single: maximumOctets * 8 / 7,
                                               concatenated: maximumOctets * 8 / 7 - headerSeptets)
        return ranges.enumerated().map { index, range in
            let header = concatenationHeader(reference: reference, total: ranges.count, sequence: index + 1)
            let septets = Array(units[range].joined())
            let length = (header.isEmpty ? 0 : headerSeptets) + septets.count
            return SMSUserData(dataCodingScheme: gsm7Coding, length: UInt8(length),
                               octets: SeptetPacking.pack(septets, after: header), hasHeader: !header.isEmpty)
        }
    }

    /// 70 code units single, 67 after the header; emoji take two.
    private static func ucs2Parts(_ units: [[UInt16]], reference: UInt8) throws(SMSPDUError) -> [SMSUserData] {
        let ranges = try SMSSegmentation.parts(widths: units.map(\.count),
                                               single: maximumOctets / 2,
                                               concatenated: (maximumOctets - concatenationHeaderOctets) / 2)
        return ranges.enumerated().map { index, range in
            var octets = concatenationHeader(reference: reference, total: ranges.count, sequence: index + 1)
            let hasHeader = !octets.isEmpty
            for unit in units[range].joined() {
                octets.append(UInt8(unit >> 8))
                octets.append(UInt8(unit & 0xFF))
            }
            return SMSUserData(dataCodingScheme: ucs2Coding, length: UInt8(octets.count),
                               octets: octets, hasHeader: hasHeader)
        }
    }

    /// Empty for a single part: a header there would only cost 7 septets of text.
    private static func concatenationHeader(reference: UInt8, total: Int, sequence: Int) -> [UInt8] {
        guard total > 1 else { return [] }
        return [0x05, 0x00, 0x03, reference, UInt8(total), UInt8(sequence)]
    }
}
