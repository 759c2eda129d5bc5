/// Packs 7-bit septets into octets, least significant bit first (3GPP TS 23.038 6.1.2.1.1).
enum SeptetPacking {
    /// Octets of a header (the UDH) rounded up to whole septets: the text must start on a septet
    /// boundary so that phones which ignore the UDH still show it, hence the fill bits.
    static func septetCount(ofHeaderOctets octets: Int) -> Int {
        (octets * 8 + 6) / 7
    }

    /// `header` is copied verbatim, fill bits (zero) follow up to the next septet boundary, then
    /// the septets. Spare bits of the last octet are zero too: the CR padding of 23.038
    /// 6.1.2.3.1 is for USSD and cell broadcast, which have no length field, whereas an SMS
    /// receiver reads exactly TP-UDL septets.
    static func pack(_ septets: [UInt8], after header: [UInt8] = []) -> [UInt8] {
        let firstSeptet = septetCount(ofHeaderOctets: header.count)
        let totalBits = (firstSeptet + septets.count) * 7
        var octets = header + [UInt8](repeating: 0, count: (totalBits + 7) / 8 - header.count)
        for (index, septet) in septets.enumerated() {
            let bit = (firstSeptet + index) * 7
            let shift = bit % 8
            octets[bit / 8] |= septet << shift
            if shift > 1 {
                octets[bit / 8 + 1] |= septet >> (8 - shift)
            }
        }
        return octets
    }

    /// The first `count` septets, counted from the start of the octets (header septets
    /// included). Taking exactly `count` is what keeps zero padding from turning into a
    /// trailing '@', which is septet 0x00.
    static func unpack(_ octets: [UInt8], count: Int) throws(SMSPDUError) -> [UInt8] {
        guard count * 7 <= octets.count * 8 else {
            throw .malformed("\(count) septets need more than \(octets.count) octets")
        }
        var septets: [UInt8] = []
        septets.reserveCapacity(count)
        for index in 0..<count {
            let bit = index * 7
            let shift = bit % 8
            var value = octets[bit / 8] >> shift
            if shift > 1 {
                value |= octets[bit / 8 + 1] << (8 - shift)
            }
            septets.append(value & 0x7F)
        }
        return septets
    }
}
