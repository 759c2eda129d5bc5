import HAL
import PosixIO

/// Named records in a storage directory, replaced atomically (write, fsync, rename, fsync the directory).
public struct FileRecordStore: RecordStore {
    public let directory: StorageDirectory

    public init(directory: StorageDirectory) { self.directory = directory }

    public func load(_ name: String) throws(HALError) -> [UInt8]? {
        do {
            return try directory.read(name)
        } catch {
            throw HALError(.io, "reading \(directory.filePath(name)): \(error)")
        }
    }

    public func save(_ name: String, _ bytes: [UInt8]) throws(HALError) {
        do {
            try directory.replaceAtomically(name, with: bytes)
        } catch {
            throw HALError(error == .noSpace ? .unavailable : .io, "writing \(directory.filePath(name)): \(error)")
        }
    }
}
