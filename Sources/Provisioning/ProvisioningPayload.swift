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

    public init(_ bytes: [UInt8]) throws(BundleProblem) {
        // Checked before decoding: FoundationEssentials' JSON5 scanner traps on malformed UTF-8 in unquoted keys.
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .malformed("payload: not valid UTF-8 text") }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        let root: PayloadValue
        do {
            root = try decoder.decode(PayloadValue.self, from: Data(bytes))
        } catch {
            throw .malformed("payload: not a JSON5 document (\(Self.reason(error)))")
        }
        guard case .object(let top) = root else { throw .malformed("payload: expected an object at the top level") }

        var paths = Set<String>()
        Self.collect(root, prefix: "", into: &paths)
        keyPaths = paths

        if case .object(let device)? = top["device"], let id = device["id"] {
            guard case .string(let text) = id, ProvisioningBundle.isValidDeviceID(text) else {
                throw .malformed("payload: device.id: expected 1-32 letters, digits or '-'")
            }
            deviceID = text
        } else {
            deviceID = nil
        }

        var pinned: [String: String] = [:]
        if let section = top[ProvisionedKeys.fingerprintsSection] {
            guard case .object = section else { throw .malformed("payload: fingerprints: expected an object mirroring the board's key-file keys") }
            var leaves = Set<String>()
            Self.collect(section, prefix: "", into: &leaves)
            for path in leaves {
                guard case .string(let value)? = section.value(at: path), Hex.decode(value, count: 32) != nil else {
                    throw .malformed("payload: fingerprints.\(path): expected a SHA-256 as 64 lower-case hex digits")
                }
                pinned[path] = value
            }
        }
        fingerprints = pinned
    }

    private static func collect(_ value: PayloadValue, prefix: String, into paths: inout Set<String>) {
        guard case .object(let members) = value, !members.isEmpty else {
            if !prefix.isEmpty { paths.insert(prefix) }
            return
        }
        for (key, member) in members {
            collect(member, prefix: prefix.isEmpty ? key : prefix + "." + key, into: &paths)
        }
    }

    private static func reason(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
        }
        return "\(error)"
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

    func value(at path: String) -> PayloadValue? {
        var current = self
        for key in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .object(let members) = current, let next = members[String(key)] else { return nil }
            current = next
        }
        return current
    }
}
