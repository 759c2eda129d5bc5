import Crypto
import PosixIO

/// A key file's fingerprint as a payload pins it: SHA-256 of the file's exact bytes (a trailing newline counts),
/// 64 lower-case hex digits.
public enum KeyFingerprint {
    /// Key files are a few dozen bytes; a large file at a key path is a mistake.
    public static let fileLimit = 64 * 1024

    public static func of(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes)) }

    /// Reads the file as it is (no ownership check: the daemon checks that separately when it loads the key).
    public static func ofFile(at path: String) throws(KeyFileMismatch.Problem) -> String {
        let bytes: [UInt8]?
        do {
            bytes = try StorageDirectory.readFile(path, limit: fileLimit)
        } catch {
            throw error == .fileTooLarge ? .unreadable("larger than \(fileLimit) bytes") : .unreadable("\(error)")
        }
        guard let bytes else { throw .missing }
        return of(bytes)
    }

    /// Compares the payload's fingerprints with the key files the board names.
    ///
    /// - expected: the payload's fingerprints (`ProvisioningPayload.fingerprints`), by board key path.
    /// - files: board key path → the file path the board (after the overlay) names for it, for every key file the
    ///   daemon is about to use. A file without a fingerprint is a mismatch too: every key in use must be pinned.
    /// - Returns: one entry per key that does not match, in key order; empty when all match.
    public static func check(expected: [String: String], files: [String: String]) -> [KeyFileMismatch] {
        var mismatches: [KeyFileMismatch] = []
        for (key, path) in files.sorted(by: { $0.key < $1.key }) {
            guard let pinned = expected[key] else {
                mismatches.append(KeyFileMismatch(key: key, path: path, problem: .notFingerprinted))
                continue
            }
            do {
                let actual = try ofFile(at: path)
                if actual != pinned { mismatches.append(KeyFileMismatch(key: key, path: path, problem: .differs(actual: actual))) }
            } catch {
                mismatches.append(KeyFileMismatch(key: key, path: path, problem: error))
            }
        }
        for key in expected.keys.sorted() where files[key] == nil {
            mismatches.append(KeyFileMismatch(key: key, path: nil, problem: .notNamedByBoard))
        }
        return mismatches
    }
}

/// A key file that does not match the payload's fingerprint for it.
public struct KeyFileMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Error, Sendable, Hashable, CustomStringConvertible {
        /// The file's SHA-256 is another one: the key was replaced.
        case differs(actual: String)
        case missing
        case unreadable(String)
        /// The board names a key file the payload does not pin.
        case notFingerprinted
        /// The payload pins a key the board does not name a file for.
        case notNamedByBoard

        public var description: String {
            switch self {
            case .differs(let actual): "does not match the provisioned fingerprint (its SHA-256 is \(actual.prefix(16))…)"
            case .missing: "does not exist"
            case .unreadable(let reason): "cannot be read (\(reason))"
            case .notFingerprinted: "has no fingerprint in the provisioning payload"
            case .notNamedByBoard: "is fingerprinted in the provisioning payload but the board names no file for it"
            }
        }
    }

    /// The board key path, e.g. `reporting.keyFile`.
    public let key: String
    public let path: String?
    public let problem: Problem

    public var description: String {
        "\(key)\(path.map { " (\($0))" } ?? ""): \(problem)"
    }
}
