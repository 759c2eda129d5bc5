import Glibc
import HAL
import PosixIO

/// The device's storage key: 32 random bytes in a file only the daemon's user can read. Every record
/// at rest is sealed with it; without it a removed storage card shows nothing but ciphertext.
public struct StorageKey: Sendable {
    public let bytes: [UInt8]

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Loads the key; with `createIfMissing` (simulator boards) a missing key is generated with mode 0600.
    /// A key file owned by someone else, or readable by group or others, is refused.
    public static func load(path: String, createIfMissing: Bool) throws(Problem) -> StorageKey {
        var info = stat()
        if stat(path, &info) != 0 {
            guard Errno.current == .noSuchFile, createIfMissing else {
                throw Problem(description: "storage key \(path): cannot be read (\(Errno.current))")
            }
            return try generate(at: path)
        }
        guard info.st_uid == getuid() else {
            throw Problem(description: "storage key \(path): must be owned by the daemon's user (uid \(getuid()))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw Problem(description: "storage key \(path): readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); expected 0600 or 0400")
        }
        let bytes: [UInt8]?
        do {
            bytes = try StorageDirectory.readFile(path, limit: 64)
        } catch {
            throw Problem(description: "storage key \(path): cannot be read (\(error))")
        }
        guard let bytes, bytes.count == 32 else {
            throw Problem(description: "storage key \(path): expected exactly 32 bytes, found \(bytes?.count ?? 0)")
        }
        return StorageKey(bytes: bytes)
    }

    static func generate(at path: String) throws(Problem) -> StorageKey {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        let directory = components.count > 1 ? components.dropLast().joined(separator: "/") : "."
        do {
            try StorageDirectory(path: directory.isEmpty ? "/" : directory)
                .replaceAtomically(String(components.last ?? ""), with: bytes)
        } catch {
            throw Problem(description: "storage key \(path): cannot be created (\(error))")
        }
        return StorageKey(bytes: bytes)
    }
}
