import Crypto
import Evidence
import HAL
import Logging
import PosixIO

extension DeviceAssembly {
    /// The evidence recorder a board asks for: keys checked (owner-only signing key, a well-formed centre key), the
    /// recordings under `<storage>/evidence`.
    static func assembleEvidence(_ board: Board, sampleRate: Int, logger: Logger) throws(BoardError) -> EvidenceRecording? {
        guard let settings = board.evidence else { return nil }
        func problem(_ key: String, _ text: String) -> BoardError { BoardError(file: board.file, key: "evidence.\(key)", problem: text) }
        let centreBytes: [UInt8]
        do {
            guard let read = try StorageDirectory.readFile(settings.centreKeyFile) else { throw problem("centreKeyFile", "\(settings.centreKeyFile): no such file") }
            centreBytes = read
        } catch let error as BoardError {
            throw error
        } catch {
            throw problem("centreKeyFile", "\(settings.centreKeyFile): \(error)")
        }
        guard let centreRaw = hex(String(decoding: centreBytes, as: UTF8.self)), centreRaw.count == 32,
              let centre = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: centreRaw) else {
            throw problem("centreKeyFile", "\(settings.centreKeyFile): expected an X25519 public key as 64 hex digits")
        }
        let signingPath = settings.signingKeyFile ?? board.storagePath + "/evidence-signing.key"
        var signingText: [UInt8]
        do {
            signingText = try SecretFile.read(signingPath, limit: 256)
        } catch .missing where settings.signingKeyFile == nil {
            let key = Curve25519.Signing.PrivateKey()
            signingText = Array(key.rawRepresentation.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined().utf8)
            do {
                try StorageDirectory(path: board.storagePath).replaceAtomically("evidence-signing.key", with: signingText)
            } catch {
                throw problem("signingKeyFile", "\(signingPath): cannot be created (\(error))")
            }
        } catch {
            throw problem("signingKeyFile", "\(signingPath): \(error.description)")
        }
        guard let signingRaw = hex(String(decoding: signingText, as: UTF8.self)), signingRaw.count == 32,
              let device = try? Curve25519.Signing.PrivateKey(rawRepresentation: signingRaw) else {
            throw problem("signingKeyFile", "\(signingPath): expected an Ed25519 private key as 64 hex digits")
        }
        let root: StorageDirectory
        do {
            root = try StorageDirectory(path: board.storagePath).subdirectory("evidence")
        } catch {
            throw problem("", "cannot use \(board.storagePath)/evidence: \(error)")
        }
        var recorderSettings = EvidenceRecorder.Settings(deviceID: board.deviceID, sampleRate: sampleRate)
        recorderSettings.preTrigger = settings.preTrigger
        recorderSettings.chunkDuration = settings.chunk
        recorderSettings.storageLimitBytes = settings.storageLimitMB << 20
        let recorder = EvidenceRecorder(settings: recorderSettings, centre: centre, device: device, store: FileEvidenceStore(root: root))
        return EvidenceRecording(recorder: recorder, deviceID: board.deviceID, sampleRate: sampleRate, logger: logger)
    }

    static func hex(_ text: String) -> [UInt8]? {
        let digits = text.filter { !$0.isWhitespace }
        guard digits.count % 2 == 0, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
        var out: [UInt8] = []
        var iterator = digits.makeIterator()
        while let h = iterator.next(), let l = iterator.next() { out.append(UInt8(h.hexDigitValue! << 4 | l.hexDigitValue!)) }
        return out
    }
}
