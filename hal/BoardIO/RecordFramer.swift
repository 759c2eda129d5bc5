/// Cuts a byte stream into the kernel's fixed-size records. The input and GPIO drivers hand out whole records
/// per read, but a pipe (tests, a relay) may not: a record split across reads waits here for its rest.
struct RecordFramer: Sendable {
    let size: Int
    private var partial: [UInt8] = []

    init(size: Int) {
        precondition(size > 0)
        self.size = size
    }

    /// Complete records in arrival order; a trailing fragment is kept for the next call.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        if !partial.isEmpty {
            let missing = min(size - partial.count, bytes.count)
            partial.append(contentsOf: bytes[0..<missing])
            offset = missing
            guard partial.count == size else { return [] }
            records.append(partial)
            partial.removeAll(keepingCapacity: true)
        }
        while bytes.count - offset >= size {
            records.append(Array(bytes[offset..<offset + size]))
            offset += size
        }
        partial.append(contentsOf: bytes[offset...])
        return records
    }

    /// A reopened device starts on a record boundary: a fragment of the old one must not prefix it.
    mutating func reset() { partial.removeAll() }

    var pendingBytes: Int { partial.count }
}
