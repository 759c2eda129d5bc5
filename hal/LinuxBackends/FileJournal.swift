import Glibc
import HAL
import PosixIO
import Synchronization

/// The journal as one file of framed entries: `"ALJ1"`, length (UInt32 BE), CRC-32 of the entry (UInt32 BE), the
/// entry. Appends go through O_APPEND + fsync; compaction replaces the file atomically (write, fsync, rename).
/// Reading resynchronises on the magic after a bad frame, so one corrupt entry in the middle costs only that entry.
public final class FileJournal: JournalStore {
    static let magic: [UInt8] = Array("ALJ1".utf8)
    /// A bound on one entry: anything longer is corruption, not a state.
    static let maximumEntry = 1 << 20

    let directory: StorageDirectory
    let name: String
    let bytes = Mutex(0)

    public init(directory: StorageDirectory, name: String = "journal") {
        self.directory = directory
        self.name = name
        bytes.withLock { $0 = ((try? directory.read(name)) ?? nil)?.count ?? 0 }
    }

    public var size: Int { bytes.withLock { $0 } }

    public func latest() throws(HALError) -> (entry: [UInt8]?, problems: [String]) {
        let content: [UInt8]
        do {
            guard let read = try directory.read(name) else { return (nil, []) }
            content = read
        } catch {
            throw HALError(.io, "journal cannot be read: \(error)")
        }
        return Self.scan(content)
    }

    /// The newest intact entry of `content`, and what was wrong on the way.
    static func scan(_ content: [UInt8]) -> (entry: [UInt8]?, problems: [String]) {
        var newest: [UInt8]?
        var problems: [String] = []
        var index = 0
        var skipping = false
        while index < content.count {
            guard content.count - index >= 12, Array(content[index..<(index + 4)]) == magic else {
                if !skipping { problems.append("journal: unreadable bytes at offset \(index) skipped") }
                skipping = true
                index += 1
                continue
            }
            let length = Int(be32(content, index + 4))
            let crc = be32(content, index + 8)
            let start = index + 12
            guard length <= maximumEntry else {
                problems.append("journal: entry at offset \(index) claims \(length) bytes; skipped")
                skipping = true
                index += 1
                continue
            }
            guard start + length <= content.count else {
                problems.append("journal: torn entry at the end (offset \(index), \(content.count - start) of \(length) bytes) dropped")
                break
            }
            let entry = Array(content[start..<(start + length)])
            guard CRC32.checksum(entry) == crc else {
                problems.append("journal: corrupt entry at offset \(index) skipped")
                skipping = true
                index += 1
                continue
            }
            newest = entry
            skipping = false
            index = start + length
        }
        return (newest, problems)
    }

    static func be32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    static func frame(_ entry: [UInt8]) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return magic + be(UInt32(entry.count)) + be(CRC32.checksum(entry)) + entry
    }

    public func append(_ entry: [UInt8]) throws(HALError) {
        let framed = Self.frame(entry)
        do {
            try directory.appendDurably(name, framed)
        } catch {
            throw Self.halError(error, "journal append")
        }
        bytes.withLock { $0 += framed.count }
    }

    public func reset(to entry: [UInt8]?) throws(HALError) {
        let content = entry.map(Self.frame) ?? []
        do {
            try directory.replaceAtomically(name, with: content)
        } catch {
            throw Self.halError(error, "journal compaction")
        }
        bytes.withLock { $0 = content.count }
    }

    static func halError(_ error: Errno, _ what: String) -> HALError {
        error == Errno(ENOSPC) ? HALError(.unavailable, "\(what): storage full") : HALError(.io, "\(what): \(error)")
    }
}

/// CRC-32 (IEEE 802.3, reflected 0xEDB88320): the journal's frame checksum (torn writes, bit rot).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
