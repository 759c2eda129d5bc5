import Crypto

/// A provisioning bundle: the operator's signature over everything that decides where an alarm goes.
///
/// The envelope is text, so an operator can read it with `cat`, and strict, so each bundle has exactly one byte form:
///
///     stalking-alarm-provisioning 1
///     counter 7
///     device-id BE-PZ2-0001
///     signer <64 hex digits: the signer's Ed25519 public key>
///     payload <N: the payload's length in bytes>
///     <exactly N bytes of payload: a JSON5 document mirroring the board file's keys>
///     signature <128 hex digits: Ed25519 over `signedBytes`>
///
/// Lines end in a single LF; hex is lower case; the counter is decimal without leading zeros. The payload is
/// carried by length, so it may contain any text (a blank line follows it when it ends in a newline itself).
/// The verifier never parses the payload: it signs and checks its exact bytes.
public struct ProvisioningBundle: Sendable, Hashable {
    public static let formatVersion = 1
    /// Bundles are a few kilobytes; anything larger is refused before it is parsed.
    public static let maximumSize = 64 * 1024
    static let magic = "stalking-alarm-provisioning"
    /// Domain separation: a signature made for any other purpose (or format version) never verifies as a bundle's.
    static let signatureContext = "stalking-alarm provisioning bundle, format 1\u{0}"

    /// Strictly increasing per device: the daemon refuses a bundle older than the one it verified last.
    public let counter: UInt64
    public let deviceID: String
    /// The key the bundle claims to be signed by; it counts only if it is the operator's key.
    public let signer: OperatorPublicKey
    /// The exact payload bytes (UTF-8 JSON5 text).
    public let payload: [UInt8]
    public let signature: [UInt8]

    public var payloadText: String { String(decoding: payload, as: UTF8.self) }

    /// What the signature covers: the context string, then the format version, the counter, the device id and the
    /// payload, each of fixed width or length-prefixed so that no two bundles share their signed bytes.
    public var signedBytes: [UInt8] {
        Self.signedBytes(counter: counter, deviceID: deviceID, payload: payload)
    }

    static func signedBytes(counter: UInt64, deviceID: String, payload: [UInt8]) -> [UInt8] {
        var out = Array(signatureContext.utf8)
        out += bigEndian(UInt16(formatVersion))
        out += bigEndian(counter)
        out.append(UInt8(deviceID.utf8.count))
        out += deviceID.utf8
        out += bigEndian(UInt32(payload.count))
        out += payload
        return out
    }

    /// SHA-256 of the signed bytes: names this bundle's contents in logs and in the operator's records.
    public var digest: BundleDigest { BundleDigest(Array(SHA256.hash(data: signedBytes))) }

    /// The bundle file's bytes.
    public var encoded: [UInt8] {
        var out = Array("""
            \(Self.magic) \(Self.formatVersion)
            counter \(counter)
            device-id \(deviceID)
            signer \(Hex.encode(signer.rawRepresentation))
            payload \(payload.count)

            """.utf8)
        out += payload
        out += Array("\nsignature \(Hex.encode(signature))\n".utf8)
        return out
    }

    /// 1-32 ASCII letters, digits or '-': the board file's rule for `device.id`.
    public static func isValidDeviceID(_ id: String) -> Bool {
        (1...32).contains(id.utf8.count) && id.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
        }
    }

    // MARK: - Signing

    /// Signs `payload` for one device. The counter must be at least 1 and above every bundle the device has seen.
    public static func sign(payload: [UInt8], counter: UInt64, deviceID: String,
                            with key: OperatorPrivateKey) throws(BundleProblem) -> ProvisioningBundle {
        guard counter >= 1 else { throw .malformed("counter: must be at least 1") }
        guard isValidDeviceID(deviceID) else { throw .malformed("device id: expected 1-32 letters, digits or '-', got \"\(deviceID)\"") }
        guard !payload.isEmpty else { throw .malformed("payload: empty") }
        guard String(validating: payload, as: UTF8.self) != nil else { throw .malformed("payload: not valid UTF-8 text") }
        let signed = signedBytes(counter: counter, deviceID: deviceID, payload: payload)
        let signature: [UInt8]
        do {
            signature = Array(try key.key.signature(for: signed))
        } catch {
            // BoringSSL's Ed25519 signing does not fail for a valid key; should it ever, say so rather than crash.
            throw .malformed("signing failed: \(error)")
        }
        let bundle = ProvisioningBundle(counter: counter, deviceID: deviceID, signer: key.publicKey, payload: payload, signature: signature)
        let size = bundle.encoded.count
        guard size <= maximumSize else { throw .tooLarge(bytes: size) }
        return bundle
    }

    // MARK: - Verifying

    /// Parses and verifies a bundle file against the operator's key and, when known, the device id expected.
    public static func verify(_ bytes: [UInt8], operatorKey: OperatorPublicKey,
                              expectedDeviceID: String?) throws(BundleProblem) -> VerifiedBundle {
        try parse(bytes).verify(operatorKey: operatorKey, expectedDeviceID: expectedDeviceID)
    }

    public func verify(operatorKey: OperatorPublicKey, expectedDeviceID: String?) throws(BundleProblem) -> VerifiedBundle {
        guard signer == operatorKey else { throw .foreignSigner(fingerprint: signer.shortFingerprint) }
        guard operatorKey.key.isValidSignature(signature, for: signedBytes) else { throw .badSignature }
        if let expectedDeviceID, expectedDeviceID != deviceID {
            throw .otherDevice(bundle: deviceID, expected: expectedDeviceID)
        }
        return VerifiedBundle(bundle: self)
    }

    // MARK: - Parsing

    /// Reads a bundle file without verifying it (`show` uses this; everything else goes through `verify`).
    public static func parse(_ bytes: [UInt8]) throws(BundleProblem) -> ProvisioningBundle {
        guard bytes.count <= maximumSize else { throw .tooLarge(bytes: bytes.count) }
        guard bytes.starts(with: (magic + " ").utf8) else {
            throw .malformed("not a provisioning bundle (the first line must be \"\(magic) \(formatVersion)\")")
        }
        var reader = LineReader(bytes: bytes)
        let first = try reader.line("the first line")
        let version = first.dropFirst(magic.count + 1)
        guard version == "\(formatVersion)" else {
            guard (1...9).contains(version.count), version.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw .malformed("the first line must be \"\(magic) \(formatVersion)\"")
            }
            throw .unsupportedVersion(String(version))
        }

        let counterText = try reader.field("counter")
        guard let counter = UInt64(counterText), counter >= 1, "\(counter)" == counterText else {
            throw .malformed("counter: expected a decimal number from 1, without leading zeros, got \"\(counterText)\"")
        }
        let deviceID = try reader.field("device-id")
        guard isValidDeviceID(deviceID) else {
            throw .malformed("device-id: expected 1-32 letters, digits or '-', got \"\(deviceID)\"")
        }
        let signerText = try reader.field("signer")
        guard let signerRaw = Hex.decode(signerText, count: 32), let signer = OperatorPublicKey(rawRepresentation: signerRaw) else {
            throw .malformed("signer: expected an Ed25519 public key as 64 lower-case hex digits")
        }
        let lengthText = try reader.field("payload")
        guard let length = Int(lengthText), length >= 1, "\(length)" == lengthText else {
            throw .malformed("payload: expected the payload's length in bytes, got \"\(lengthText)\"")
        }
        guard let payload = reader.take(length) else {
            throw .malformed("payload: the file ends before the payload's \(length) bytes")
        }
        guard String(validating: payload, as: UTF8.self) != nil else { throw .malformed("payload: not valid UTF-8 text") }
        let edited = BundleProblem.malformed(
            "payload: no signature line right after the payload's \(length) bytes (was the payload edited? its length is in the payload line)")
        guard reader.take(1) == [UInt8(ascii: "\n")], reader.startsWith("signature ") else { throw edited }
        let signatureText = try reader.field("signature")
        guard let signature = Hex.decode(signatureText, count: 64) else {
            throw .malformed("signature: expected 128 lower-case hex digits")
        }
        guard reader.atEnd else { throw .malformed("unexpected bytes after the signature line") }
        return ProvisioningBundle(counter: counter, deviceID: deviceID, signer: signer, payload: payload, signature: signature)
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian, Array.init)
    }
}

/// A bundle whose signature was checked against the operator's key. Only verification makes one, so a payload
/// reached through this type is one the operator signed.
public struct VerifiedBundle: Sendable, Hashable {
    public let bundle: ProvisioningBundle

    public var counter: UInt64 { bundle.counter }
    public var deviceID: String { bundle.deviceID }
    public var payload: [UInt8] { bundle.payload }
    public var digest: BundleDigest { bundle.digest }
    /// The bytes to keep as the last verified bundle.
    public var encoded: [UInt8] { bundle.encoded }
}

/// SHA-256 of a bundle's signed bytes.
public struct BundleDigest: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// 64 lower-case hex digits.
    public var full: String { Hex.encode(bytes) }
    /// The first 16 hex digits, for log lines.
    public var short: String { String(full.prefix(16)) }
    public var description: String { short }
}

/// Lines of the envelope, each ending in exactly one LF; carriage returns and missing line ends are refused.
private struct LineReader {
    let bytes: [UInt8]
    var offset = 0

    var atEnd: Bool { offset == bytes.count }

    mutating func line(_ what: String) throws(BundleProblem) -> String {
        guard let end = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw .malformed("\(what): the file ends without a line break")
        }
        let content = bytes[offset..<end]
        guard content.allSatisfy({ (0x20...0x7e).contains($0) }) else {
            throw .malformed("\(what): only printable ASCII is allowed in the header")
        }
        offset = end + 1
        return String(decoding: content, as: UTF8.self)
    }

    /// A `name value` line, in the format's fixed order.
    mutating func field(_ name: String) throws(BundleProblem) -> String {
        let text = try line("\(name) line")
        guard text.hasPrefix(name + " ") else {
            throw .malformed("expected the line \"\(name) …\", got \"\(text.prefix(40))\"")
        }
        return String(text.dropFirst(name.count + 1))
    }

    func startsWith(_ prefix: String) -> Bool { bytes[offset...].starts(with: prefix.utf8) }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}
