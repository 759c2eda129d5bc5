/// Walks the PDU field by field so that a truncated PDU names the field it ended in,
/// instead of trapping on an out-of-range index.
struct SMSOctetReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func octet(_ field: String) throws(SMSPDUError) -> UInt8 {
        let slice = try octets(1, field)
        return slice[slice.startIndex]
    }

    mutating func octets(_ count: Int, _ field: String) throws(SMSPDUError) -> ArraySlice<UInt8> {
        guard count <= bytes.count - position else {
            throw .malformed("PDU ends inside \(field)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func remaining() -> ArraySlice<UInt8> {
        defer { position = bytes.count }
        return bytes[position...]
    }
}
