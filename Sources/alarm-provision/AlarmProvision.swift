import ArgumentParser
import Glibc
import PosixIO
import Provisioning

/// The operator's tool for signed provisioning bundles (docs/provisioning.md). Runs on the operator's offline
/// machine (keygen, sign) and anywhere a bundle needs checking (verify, show, fingerprint).
@main
struct AlarmProvision: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm-provision",
        abstract: "Make, sign and check the operator-signed provisioning bundles of stalking-alarm devices.",
        subcommands: [Keygen.self, Sign.self, Verify.self, Show.self, Fingerprint.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the operator's Ed25519 key pair (once; keep the private key offline).")
        @Option(help: "Private key file to create (mode 0600; never overwritten).") var `private`: String
        @Option(help: "Public key file to create (installed read-only on every device; never overwritten).") var `public`: String

        func run() throws {
            for path in [`private`, `public`] where access(path, F_OK) == 0 {
                throw Failure("\(path) exists; refusing to overwrite a key")
            }
            let key = OperatorPrivateKey.generate()
            try createNewFile(`private`, Array(key.fileText.utf8), mode: 0o600)
            do {
                try createNewFile(`public`, Array(key.publicKey.fileText.utf8), mode: 0o644)
            } catch {
                // Half a key pair is useless and the private half would be a stray secret.
                _ = unlink(`private`)
                throw error
            }
            print("operator key \(key.publicKey.fingerprint)")
            print("private: \(`private`) (keep offline)   public: \(`public`) (install on every device)")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a payload for one device; the counter must be above every bundle the device has had.")
        @Option(help: "The operator's private key file (owner-only).") var key: String
        @Option(help: "The bundle's counter, from 1: the device's previous bundle's counter + 1.") var counter: UInt64
        @Option(help: "The device id (the payload's device.id, when it has one, must be the same).") var deviceId: String
        @Argument(help: "The payload: a JSON5 document mirroring the board file's keys.") var payload: String
        @Option(help: "The bundle file to create (never overwritten).") var output: String

        func run() throws {
            guard counter >= 1 else { throw Failure("--counter: must be at least 1") }
            guard ProvisioningBundle.isValidDeviceID(deviceId) else {
                throw Failure("--device-id: expected 1-32 letters, digits or '-', got \"\(deviceId)\"")
            }
            guard access(output, F_OK) != 0 else { throw Failure("\(output) exists; refusing to overwrite a bundle") }
            let keyText: [UInt8]
            do {
                keyText = try SecretFile.read(key, limit: 4096)
            } catch {
                throw Failure("\(key): the private key file \(error)")
            }
            let privateKey = try checked(key) { () throws(OperatorKeyFileError) in try OperatorPrivateKey(fileText: String(decoding: keyText, as: UTF8.self)) }
            let payloadBytes = try readFile(payload)
            let content = try checked(payload) { () throws(PayloadProblem) in try ProvisioningPayload(payloadBytes) }
            if let id = content.deviceID, id != deviceId {
                throw Failure("\(payload): device.id is \"\(id)\" but --device-id is \"\(deviceId)\"")
            }
            for warning in Self.warnings(content) { printError("warning: \(payload): \(warning)") }
            let bundle = try checked(payload) { () throws(BundleProblem) in
                try ProvisioningBundle.sign(payload: payloadBytes, counter: counter, deviceID: deviceId, with: privateKey)
            }
            try createNewFile(output, bundle.encoded, mode: 0o644)
            print("\(output): device \(deviceId), counter \(counter), digest \(bundle.digest.full)")
        }

        /// What a payload usually has; missing parts take the product default or fail on the device, so say so now.
        static func warnings(_ content: ProvisioningPayload) -> [String] {
            var out: [String] = []
            if content.deviceID == nil { out.append("no device.id (the daemon takes the device id from the envelope)") }
            for section in ProvisionedKeys.ownedSections where !content.keyPaths.contains(where: { $0.hasPrefix(section + ".") }) {
                out.append("no \(section) section (on the device its keys take the product defaults, whatever the board file says)")
            }
            for key in ProvisionedKeys.ownedKeys where !content.keyPaths.contains(key) {
                out.append("no \(key) (on the device the board file's value is dropped)")
            }
            for key in ProvisionedKeys.fingerprintedKeyFiles where content.fingerprints[key] == nil {
                out.append("no fingerprints.\(key) (see `alarm-provision fingerprint FILE`)")
            }
            return out
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a bundle against the operator's public key: exit status 0 and its summary, or one line saying why not.")
        @Option(help: "The operator's public key file.") var operatorKey: String
        @Argument(help: "The bundle file.") var bundle: String
        @Option(help: "The device id the bundle must be made for.") var deviceId: String?

        func run() throws {
            let keyBytes = try readFile(operatorKey)
            let key = try checked(operatorKey) { () throws(OperatorKeyFileError) in try OperatorPublicKey(fileText: String(decoding: keyBytes, as: UTF8.self)) }
            let bytes = try readFile(bundle)
            let verified = try checked(bundle, "refused") { () throws(BundleProblem) in
                try ProvisioningBundle.verify(bytes, operatorKey: key, expectedDeviceID: deviceId)
            }
            print("\(bundle): valid")
            print("signer   \(key.fingerprint)")
            print("device   \(verified.deviceID)")
            print("counter  \(verified.counter)")
            print("digest   \(verified.digest.full)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a bundle's header, digest and payload WITHOUT verifying it.")
        @Argument(help: "The bundle file.") var bundle: String

        func run() throws {
            let bytes = try readFile(bundle)
            let parsed = try checked(bundle) { () throws(BundleProblem) in try ProvisioningBundle.parse(bytes) }
            print("\(bundle): NOT VERIFIED (use `alarm-provision verify --operator-key FILE` to check the signature)")
            print("format   \(ProvisioningBundle.formatVersion)")
            print("device   \(parsed.deviceID)")
            print("counter  \(parsed.counter)")
            print("signer   \(parsed.signer.fingerprint) (claimed)")
            print("digest   \(parsed.digest.full) (short \(parsed.digest.short))")
            print("payload  \(parsed.payload.count) bytes:")
            print(parsed.payloadText, terminator: parsed.payloadText.hasSuffix("\n") ? "" : "\n")
        }
    }

    struct Fingerprint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a key file's fingerprint (SHA-256 of its bytes) for the payload's fingerprints section.")
        @Argument(help: "A key file (DC-09, SMS, storage or the centre's evidence key).") var file: String

        func run() throws {
            do {
                print(try KeyFingerprint.ofFile(at: file))
            } catch {
                throw Failure("\(file): \(error)")
            }
        }
    }
}

/// A failure the tool reports as one line (ArgumentParser prints it after "Error: " and exits 1).
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func checked<T, E: Error>(_ path: String, _ verb: String? = nil, _ body: () throws(E) -> T) throws(Failure) -> T {
    do {
        return try body()
    } catch {
        throw Failure("\(path): \(verb.map { $0 + ": " } ?? "")\(error)")
    }
}

func readFile(_ path: String) throws(Failure) -> [UInt8] {
    let bytes: [UInt8]?
    do {
        // Above a bundle's limit so that an oversized bundle gets the bundle's own error.
        bytes = try StorageDirectory.readFile(path, limit: 4 * ProvisioningBundle.maximumSize)
    } catch {
        throw Failure("\(path): cannot be read (\(error == .fileTooLarge ? "too large" : "\(error)"))")
    }
    guard let bytes else { throw Failure("\(path): does not exist") }
    return bytes
}

/// Creates `path` with `mode` (the umask can only narrow it), failing if anything is already there; written and
/// fsync'd before it counts as made.
func createNewFile(_ path: String, _ bytes: [UInt8], mode: mode_t) throws(Failure) {
    let fd: FileDescriptor
    do {
        fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
    } catch {
        throw Failure(error == Errno(EEXIST) ? "\(path) exists; refusing to overwrite it" : "\(path): cannot be created (\(error))")
    }
    do throws(Errno) {
        try fd.writeAll(bytes)
        try fd.sync()
        try fd.close()
    } catch {
        _ = try? fd.close()
        _ = unlink(path)
        throw Failure("\(path): cannot be written (\(error))")
    }
}

func printError(_ line: String) {
    _ = try? FileDescriptor(rawValue: STDERR_FILENO).writeAll(Array((line + "\n").utf8))
}
