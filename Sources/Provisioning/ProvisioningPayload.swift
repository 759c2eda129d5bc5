import FoundationEssentials

/// What the tool and the daemon need to know about a payload without reading it as a board: the device id it
/// names and the key fingerprints it pins. The board's own reader checks everything else after the overlay.
public struct ProvisioningPayload: Sendable, Hashable {
    /// `device.id`, when the payload has one.
    public let deviceID: String?
    /// Board key path (`"reporting.keyFile"`) → SHA-256 of that key file, 64 lower-case hex digits.
    public let fingerprints: [String: String]
    /// Every key path the payload sets (objects are descended into; a list or a value is one key).
    public let keyPaths: Set<String>

    public init(_ bytes: [UInt8]) throws(PayloadProblem) {
        // Checked before decoding: FoundationEssentials' JSON5 scanner traps on malformed UTF-8 in unquoted keys.
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .notUTF8 }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        let root: PayloadValue
        do {
            root = try decoder.decode(PayloadValue.self, from: Data(bytes))
        } catch {
            throw .notJSON5(Self.reason(error))
        }
        guard case .object(let top) = root else { throw .notAnObject }

        keyPaths = Set(Self.leaves(root, prefix: "").map(\.path))

        if case .object(let device)? = top["device"], let id = device["id"] {
            guard case .string(let text) = id, ProvisioningBundle.isValidDeviceID(text) else {
                throw .badDeviceID
            }
            deviceID = text
        } else {
            deviceID = nil
        }

        var pinned: [String: String] = [:]
        if let section = top[ProvisionedKeys.fingerprintsSection] {
            guard case .object = section else { throw .badFingerprint(ProvisionedKeys.fingerprintsSection) }
            // Nested like the board (`reporting: { keyFile: … }`) or spelt as a quoted path (`"reporting.keyFile": …`).
            for (path, leaf) in Self.leaves(section, prefix: "") {
                guard case .string(let value) = leaf, Hex.decode(value, count: 32) != nil else {
                    throw .badFingerprint("\(ProvisionedKeys.fingerprintsSection).\(path)")
                }
                pinned[path] = value
            }
        }
        fingerprints = pinned
    }

    /// Every value that is not a non-empty object, with its dotted key path.
    private static func leaves(_ value: PayloadValue, prefix: String) -> [(path: String, value: PayloadValue)] {
        guard case .object(let members) = value, !members.isEmpty else { return prefix.isEmpty ? [] : [(prefix, value)] }
        return members.flatMap { key, member in leaves(member, prefix: prefix.isEmpty ? key : prefix + "." + key) }
    }

    private static func reason(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
        }
        return "\(error)"
    }
}

/// Why a payload cannot be read (before any board rule is applied to it).
public enum PayloadProblem: Error, Sendable, Hashable, CustomStringConvertible {
    case notUTF8
    case notJSON5(String)
    case notAnObject
    case badDeviceID
    /// The fingerprint at this key path is not a SHA-256 in hex (or `fingerprints` is not an object).
    case badFingerprint(String)

    public var description: String {
        switch self {
        case .notUTF8: "payload: not valid UTF-8 text"
        case .notJSON5(let reason): "payload: not a JSON5 document (\(reason))"
        case .notAnObject: "payload: expected an object at the top level"
        case .badDeviceID: "payload: device.id: expected 1-32 letters, digits or '-'"
        case .badFingerprint(let path): "payload: \(path): expected a SHA-256 as 64 lower-case hex digits, mirroring the board's key-file keys"
        }
    }
}

/// Just enough of JSON to find objects and strings; everything else is "some value".
private indirect enum PayloadValue: Decodable, Hashable {
    case object([String: PayloadValue])
    case string(String)
    case other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let members = try? container.decode([String: PayloadValue].self) {
            self = .object(members)
        } else {
            self = .other
        }
    }
}
