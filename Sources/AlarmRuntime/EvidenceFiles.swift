import Evidence
import PosixIO

/// Evidence on the device's storage: `<storage>/evidence/<recording>/<sequence>.evc`, each chunk written atomically
/// and fsync'd. Recordings are listed oldest first by their id (which starts with the UTC time of the trigger).
public final class FileEvidenceStore: EvidenceStore, Sendable {
    let root: StorageDirectory

    public init(root: StorageDirectory) { self.root = root }

    public func write(recording: String, sequence: Int, bytes: [UInt8]) throws {
        try root.subdirectory(recording).replaceAtomically(Self.name(sequence), with: bytes)
    }

    public func recordings() throws -> [(id: String, bytes: Int)] {
        try root.names().sorted().map { id in
            let directory = try root.subdirectory(id)
            let size = try directory.names().reduce(0) { total, name in
                total + ((try? directory.read(name)) ?? nil ?? []).count
            }
            return (id, size)
        }
    }

    public func remove(recording: String) throws {
        let directory = try root.subdirectory(recording)
        for name in try directory.names() { try directory.remove(name) }
        try root.removeDirectory(recording)
    }

    /// The chunks of one recording in sequence order.
    public func chunks(_ recording: String) throws -> [[UInt8]] {
        let directory = try root.subdirectory(recording)
        return try directory.names().filter { $0.hasSuffix(".evc") }.sorted().compactMap { try directory.read($0) }
    }

    static func name(_ sequence: Int) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".evc"
    }
}
