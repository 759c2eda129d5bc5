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
        let bytes: [UInt8]
        do {
            bytes = try SecretFile.read(path, limit: 64)
        } catch .missing where createIfMissing {
            return try generate(at: path)
        } catch {
            throw Problem(description: "storage key \(path): \(error)")
        }
        guard bytes.count == 32 else {
            throw Problem(description: "storage key \(path): expected exactly 32 bytes, found \(bytes.count)")
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
