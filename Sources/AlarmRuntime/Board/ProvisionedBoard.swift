import AlarmCore
import HAL
import LinuxBackends
import PosixIO
import Provisioning
import SecureStore

/// What the running device knows about the bundle it runs on: for `alarmctl status`, `--check`, the periodic test
/// report and the core's tamper report.
public struct ProvisioningStatus: Sendable, Hashable {
    public var counter: UInt64
    /// The bundle's digest (SHA-256 of its signed bytes): short (16 hex digits) and full.
    public var digest: String
    public var fullDigest: String
    /// The operator key's fingerprint (short).
    public var signer: String
    /// Why the bundle on the card was not taken, when the device runs on the one it kept (tamper); nil: it was.
    public var candidateRefused: String?

    public var summary: String {
        let base = "bundle #\(counter), digest \(digest), signed by operator key \(signer)"
        guard let candidateRefused else { return base }
        return base + "; the bundle on the card was REFUSED (\(candidateRefused)): running on the last verified one"
    }
}

/// A board file and the operator's signed provisioning bundle, read together (docs/provisioning.md).
///
/// Everything that decides where an alarm goes and what the device may do comes from the bundle: its payload
/// replaces the board file's `device`, `alarm` and `reporting` sections whole and its `kind` and `roles.reportLink`,
/// and pins the key files the board names by fingerprint. The board file keeps what describes the hardware. A
/// device board must name a bundle; simulator and HIL boards may (tests and rigs use it to exercise the same path).
public enum ProvisionedBoard {
    /// Where `make install` puts the operator's public key: root-owned, outside everything the daemon may write.
    public static let defaultOperatorKeyPath = "/etc/stalking-alarm/operator.pub"
    /// The sealed record holding the last bundle the daemon verified.
    static let keptRecord = "provisioning-bundle"

    public static func load(path: String, operatorKeyPath: String = defaultOperatorKeyPath) throws(BoardError) -> Board {
        try read(try Board.readFile(path), file: path, operatorKeyPath: operatorKeyPath)
    }

    public static func read(_ bytes: [UInt8], file: String, operatorKeyPath: String) throws(BoardError) -> Board {
        func refuse(_ key: String, _ problem: String) -> BoardError { BoardError(file: file, key: key, problem: problem) }
        let document: JSONValue
        do {
            document = try JSONValue.parseJSON5(bytes)
        } catch {
            throw refuse("", "not valid JSON5: \(error)")
        }
        guard case .object(var top) = document else { return try Board.parse(bytes, file: file) }
        let kind: String? = if case .string(let text)? = top["kind"] { text } else { nil }
        guard case .string(let bundlePath)? = top["provisioning"] else {
            if top["provisioning"] != nil { throw refuse("provisioning", "expected the path of the signed provisioning bundle") }
            if kind == BoardKind.device.rawValue {
                throw refuse("provisioning", "missing: a device board runs only on a bundle signed by the operator "
                    + "(e.g. \"/etc/stalking-alarm/provisioning.bundle\"; docs/provisioning.md)")
            }
            return try Board.parse(bytes, file: file)
        }
        let operatorKey = try readOperatorKey(operatorKeyPath, file: file)
        let candidate: [UInt8]?
        do {
            candidate = try StorageDirectory.readFile(bundlePath)
        } catch {
            // Unreadable counts as missing: the decision says so and keeps the last verified bundle.
            candidate = nil
        }
        let store = try keptStore(top, kind: kind, file: file)
        let kept = try? store?.load(keptRecord) ?? nil
        let decision = ProvisioningDecision.decide(candidate: candidate, lastVerified: kept ?? nil, operatorKey: operatorKey,
                                                   expectedDeviceID: nil)
        guard let verified = decision.bundle else { throw refuse("provisioning", decision.description) }
        if decision.recordsNewLastVerified {
            guard let store else { throw refuse("storageKey", "cannot keep the verified bundle: no storage") }
            do {
                try store.save(keptRecord, verified.encoded)
            } catch {
                throw refuse("storage", "cannot keep the verified provisioning bundle: \(error)")
            }
        }

        // The payload over the board: owned sections replaced whole, owned keys replaced, fingerprints set aside.
        let payloadDocument: JSONValue
        do {
            payloadDocument = try JSONValue.parseJSON5(verified.payload)
        } catch {
            throw refuse("provisioning", "the signed payload is not valid JSON5: \(error)")
        }
        guard case .object(var payload) = payloadDocument else { throw refuse("provisioning", "the signed payload is not an object") }
        let fingerprints: [String: String]
        do {
            fingerprints = try ProvisioningPayload(verified.payload).fingerprints
        } catch {
            throw refuse("provisioning", "the signed payload: \(error)")
        }
        payload[ProvisionedKeys.fingerprintsSection] = nil
        for section in ProvisionedKeys.ownedSections { top[section] = nil }
        for key in ProvisionedKeys.ownedKeys { remove(key, from: &top) }
        merge(payload, into: &top)

        var reader = try ConfigReader(file: file, path: "", value: .object(top))
        var board = try BoardReader.read(&reader)
        if case .string(let id)? = payload["device"]?.objectValue?["id"], id != verified.deviceID {
            throw refuse("device.id", "the signed payload says \"\(id)\" but the bundle is for \"\(verified.deviceID)\"")
        }

        // A key file that is not the one the operator pinned was replaced on the card: the victim's alarms would go
        // under a key someone else chose. Not starting is the only safe answer (the centre sees the silence).
        var files: [String: String] = ["storageKey": board.storageKeyPath]
        if let path = board.reporting?.keyFile { files["reporting.keyFile"] = path }
        if let path = board.reporting?.smsKeyFile { files["reporting.smsKeyFile"] = path }
        if let path = board.evidence?.centreKeyFile { files["evidence.centreKeyFile"] = path }
        if let mismatch = KeyFingerprint.check(expected: fingerprints, files: files).first {
            throw refuse(mismatch.key, "does not match the provisioning bundle: \(mismatch.description)")
        }

        var refused: String?
        if case .keepLastVerified(_, let problem) = decision { refused = problem.description }
        board.provisioning = ProvisioningStatus(counter: verified.counter, digest: verified.digest.short,
                                                fullDigest: verified.digest.full, signer: operatorKey.shortFingerprint,
                                                candidateRefused: refused)
        return board
    }

    static func readOperatorKey(_ path: String, file: String) throws(BoardError) -> OperatorPublicKey {
        let bytes: [UInt8]?
        do {
            bytes = try StorageDirectory.readFile(path)
        } catch {
            throw BoardError(file: file, key: "provisioning", problem: "the operator's public key \(path): \(error)")
        }
        guard let bytes else {
            throw BoardError(file: file, key: "provisioning",
                             problem: "the operator's public key \(path) is not installed (make install OPERATOR_KEY=…)")
        }
        do {
            return try OperatorPublicKey(fileText: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw BoardError(file: file, key: "provisioning", problem: "the operator's public key \(path): \(error)")
        }
    }

    /// The sealed store that keeps the last verified bundle, under the board's storage with its storage key. nil when
    /// the key cannot be opened (a replaced key file): then nothing kept counts, and the fingerprint check decides.
    static func keptStore(_ top: [String: JSONValue], kind: String?, file: String) throws(BoardError) -> (any RecordStore)? {
        guard case .string(let storage)? = top["storage"] else { return nil }
        let keyPath: String
        if case .string(let path)? = top["storageKey"] {
            keyPath = path
        } else {
            keyPath = storage.hasSuffix("/") ? storage + "storage.key" : storage + "/storage.key"
        }
        let directory: StorageDirectory
        do {
            directory = try StorageDirectory(path: storage).subdirectory("state")
        } catch {
            throw BoardError(file: file, key: "storage", problem: "cannot use \"\(storage)\" as the storage directory: \(error)")
        }
        guard let key = try? StorageKey.load(path: keyPath, createIfMissing: kind != BoardKind.device.rawValue) else { return nil }
        return SealedRecordStore(sealing: FileRecordStore(directory: directory), with: key)
    }

    /// Removes a dotted key path (`roles.reportLink`).
    static func remove(_ path: String, from object: inout [String: JSONValue]) {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first else { return }
        if parts.count == 1 {
            object[first] = nil
        } else if case .object(var inner)? = object[first] {
            remove(parts.dropFirst().joined(separator: "."), from: &inner)
            object[first] = .object(inner)
        }
    }

    /// Lays `payload` over `object`: objects merge key by key, anything else is replaced.
    static func merge(_ payload: [String: JSONValue], into object: inout [String: JSONValue]) {
        for (key, value) in payload {
            if case .object(let incoming) = value, case .object(var existing)? = object[key] {
                merge(incoming, into: &existing)
                object[key] = .object(existing)
            } else {
                object[key] = value
            }
        }
    }
}

extension JSONValue {
    var objectValue: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }
}
