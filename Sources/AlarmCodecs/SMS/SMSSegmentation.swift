/// Splits a message into parts without ever cutting an indivisible unit: an escape pair in
/// GSM 7-bit, a surrogate pair in UCS-2. A cut pair would show as garbage on phones that
/// display parts as they arrive, and an escape at the end of a part is invalid on its own.
enum SMSSegmentation {
    /// The concatenation header counts parts in one octet.
    static let maximumParts = 255

    /// Index ranges into `widths` (the size of each unit in the coding's counting unit), one per
    /// part. Everything goes in one part when it fits `single`; otherwise parts are filled
    /// greedily up to `concatenated`, which leaves room for the concatenation header.
    static func parts(widths: [Int], single: Int, concatenated: Int) throws(SMSPDUError) -> [Range<Int>] {
        if widths.reduce(0, +) <= single {
            return [0..<widths.count]
        }
        var parts: [Range<Int>] = []
        var start = 0
        var used = 0
        for (index, width) in widths.enumerated() {
            if used + width > concatenated {
                parts.append(start..<index)
                start = index
                used = 0
            }
            used += width
        }
        parts.append(start..<widths.count)
        guard parts.count <= maximumParts else {
            throw .textTooLong(parts: parts.count)
        }
        return parts
    }
}
