/// Why a provisioning bundle is not used: every way the parser, the verifier and the daemon's decision refuse one.
/// Closed, so the daemon can switch on it; `description` is the one line an operator reads.
public enum BundleProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// There is no bundle file.
    case missing
    /// Larger than `ProvisioningBundle.maximumSize` bytes (a bundle is a few kilobytes of text).
    case tooLarge(bytes: Int)
    /// Not a bundle of any version, or a field is not spelt exactly as the format says (the detail names it).
    case malformed(String)
    /// A bundle of a format version this firmware does not read.
    case unsupportedVersion(String)
    /// Signed by the operator's key, but the signature does not match the bytes: something was altered.
    case badSignature
    /// Signed by a key other than the operator's (shown by its fingerprint).
    case foreignSigner(fingerprint: String)
    /// A genuine bundle made for another device.
    case otherDevice(bundle: String, expected: String)
    /// A genuine but older bundle than the one already verified: replaying it would undo a later change.
    case rollback(counter: UInt64, lastVerified: UInt64)
    /// The verified bundle's counter with different contents: a re-signed bundle must bump the counter.
    case counterReused(counter: UInt64)

    public var description: String {
        switch self {
        case .missing:
            "no provisioning bundle"
        case .tooLarge(let bytes):
            "too large for a provisioning bundle (\(bytes) bytes, at most \(ProvisioningBundle.maximumSize))"
        case .malformed(let detail):
            "malformed provisioning bundle: \(detail)"
        case .unsupportedVersion(let version):
            "provisioning bundle format version \(version) is not supported (this firmware reads version \(ProvisioningBundle.formatVersion))"
        case .badSignature:
            "bad signature: the bundle was altered after the operator signed it"
        case .foreignSigner(let fingerprint):
            "signed by a foreign key (fingerprint \(fingerprint)), not by the operator's"
        case .otherDevice(let bundle, let expected):
            "made for device \"\(bundle)\", this device is \"\(expected)\""
        case .rollback(let counter, let lastVerified):
            "rollback: counter \(counter) is older than the verified bundle's \(lastVerified)"
        case .counterReused(let counter):
            "counter \(counter) is the verified bundle's, with different contents (a re-signed bundle must bump the counter)"
        }
    }
}
