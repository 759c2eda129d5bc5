import Crypto

/// The operator's Ed25519 public key: installed read-only on the device, it is the only key whose bundles count.
///
/// Its file is one line, `ed25519-public:` and 64 lower-case hex digits; the private key's line starts with
/// `ed25519-private:`, so neither can be passed where the other is expected.
public struct OperatorPublicKey: Sendable, Hashable, CustomStringConvertible {
    public let rawRepresentation: [UInt8]
    let key: Curve25519.Signing.PublicKey

    public static let filePrefix = "ed25519-public:"

    public init?(rawRepresentation raw: [UInt8]) {
        guard raw.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return nil }
        self.rawRepresentation = raw
        self.key = key
    }

    /// Reads the key file's text (surrounding white space is ignored).
    public init(fileText text: String) throws(OperatorKeyFileError) {
        let line = text.trimmingWhiteSpace()
        guard line.hasPrefix(Self.filePrefix), let raw = Hex.decode(line.dropFirst(Self.filePrefix.count), count: 32),
              let key = OperatorPublicKey(rawRepresentation: raw) else {
            throw .malformed(expected: "\(Self.filePrefix) and 64 lower-case hex digits")
        }
        self = key
    }

    public var fileText: String { Self.filePrefix + Hex.encode(rawRepresentation) + "\n" }

    /// SHA-256 of the 32 key bytes, lower-case hex: how the key is named in logs and by the tool.
    public var fingerprint: String { Hex.encode(SHA256.hash(data: rawRepresentation)) }
    /// The fingerprint's first 16 hex digits, for one-line messages.
    public var shortFingerprint: String { String(fingerprint.prefix(16)) }

    public var description: String { "operator key \(shortFingerprint)" }

    public static func == (a: Self, b: Self) -> Bool { a.rawRepresentation == b.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawRepresentation) }
}

/// The operator's Ed25519 private key (its 32-byte seed). It signs bundles and belongs offline, never on a device.
public struct OperatorPrivateKey: Sendable {
    let key: Curve25519.Signing.PrivateKey

    public static let filePrefix = "ed25519-private:"

    public static func generate() -> OperatorPrivateKey { OperatorPrivateKey(key: Curve25519.Signing.PrivateKey()) }

    init(key: Curve25519.Signing.PrivateKey) { self.key = key }

    public init(fileText text: String) throws(OperatorKeyFileError) {
        let line = text.trimmingWhiteSpace()
        guard line.hasPrefix(Self.filePrefix), let raw = Hex.decode(line.dropFirst(Self.filePrefix.count), count: 32),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw .malformed(expected: "\(Self.filePrefix) and 64 lower-case hex digits")
        }
        self.key = key
    }

    public var fileText: String { Self.filePrefix + Hex.encode(key.rawRepresentation) + "\n" }

    public var publicKey: OperatorPublicKey { OperatorPublicKey(rawRepresentation: Array(key.publicKey.rawRepresentation))! }
}

/// An operator key file that is not what it should be (e.g. the private key given where the public one belongs).
public enum OperatorKeyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(expected: String)

    public var description: String {
        switch self {
        case .malformed(let expected): "not an operator key file of this kind (expected one line: \(expected))"
        }
    }
}

extension String {
    func trimmingWhiteSpace() -> Substring {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
