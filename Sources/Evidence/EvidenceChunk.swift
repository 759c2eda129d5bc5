import Crypto
import FoundationEssentials

/// One chunk of an evidence recording, as stored: a clear header, the PCM sealed to the receiving centre (HPKE,
/// X25519 + HKDF-SHA256 + ChaCha20-Poly1305, a fresh encapsulation per chunk), and the device's Ed25519 signature over
/// everything before it. Nobody holding the device can listen (the centre's private key is not on it); whoever holds
/// the centre's key can check that the chunk comes whole and unaltered from this device, in this recording, at this
/// place in it.
///
/// Layout (big-endian):
///
///     "EVC1" | header length (UInt16) | header | encapsulated key length (UInt16) | encapsulated key
///            | ciphertext length (UInt32) | ciphertext | signature (64)
///
/// The header (UTF-8 `key=value` lines) binds device id, recording id, chunk sequence, capture start (UTC ms),
/// sample rate, sample count and the device's public signing key; it is also the HPKE associated data.
public struct EvidenceChunk: Sendable, Hashable {
    public struct Header: Sendable, Hashable {
        public var deviceID: String
        public var recordingID: String
        public var sequence: Int
        public var capturedAtMilliseconds: Int64
        public var sampleRate: Int
        public var sampleCount: Int
        /// The device's Ed25519 public key (raw, 32 bytes), so a chunk names who signed it; the centre compares it with
        /// the key it registered for the device.
        public var devicePublicKey: [UInt8]

        public init(deviceID: String, recordingID: String, sequence: Int, capturedAtMilliseconds: Int64, sampleRate: Int,
                    sampleCount: Int, devicePublicKey: [UInt8]) {
            self.deviceID = deviceID
            self.recordingID = recordingID
            self.sequence = sequence
            self.capturedAtMilliseconds = capturedAtMilliseconds
            self.sampleRate = sampleRate
            self.sampleCount = sampleCount
            self.devicePublicKey = devicePublicKey
        }

        var encoded: [UInt8] {
            let key = devicePublicKey.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            return Array("""
                device=\(deviceID)
                recording=\(recordingID)
                sequence=\(sequence)
                captured=\(capturedAtMilliseconds)
                rate=\(sampleRate)
                samples=\(sampleCount)
                signer=\(key)
                """.utf8)
        }

        static func decode(_ bytes: [UInt8]) -> Header? {
            var fields: [String: String] = [:]
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { return nil }
                fields[String(kv[0])] = String(kv[1])
            }
            guard let device = fields["device"], let recording = fields["recording"], let sequence = fields["sequence"].flatMap({ Int($0) }),
                  let captured = fields["captured"].flatMap({ Int64($0) }), let rate = fields["rate"].flatMap({ Int($0) }),
                  let samples = fields["samples"].flatMap({ Int($0) }), let signer = fields["signer"], signer.count == 64 else { return nil }
            var key: [UInt8] = []
            var iterator = signer.makeIterator()
            while let high = iterator.next(), let low = iterator.next() {
                guard let h = high.hexDigitValue, let l = low.hexDigitValue else { return nil }
                key.append(UInt8(h << 4 | l))
            }
            return Header(deviceID: device, recordingID: recording, sequence: sequence, capturedAtMilliseconds: captured,
                          sampleRate: rate, sampleCount: samples, devicePublicKey: key)
        }
    }

    public enum ChunkError: Error, Hashable, Sendable, CustomStringConvertible {
        case truncated
        case notAChunk
        case badSignature
        case cannotDecrypt
        case inconsistent(String)

        public var description: String {
            switch self {
            case .truncated: "chunk truncated"
            case .notAChunk: "not an evidence chunk"
            case .badSignature: "signature does not verify: the chunk was altered or not signed by this device"
            case .cannotDecrypt: "cannot be opened with this centre key"
            case .inconsistent(let why): why
            }
        }
    }

    static let magic = Array("EVC1".utf8)
    static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
    static let info = Data("stalking-alarm evidence v1".utf8)

    public var header: Header
    public var bytes: [UInt8]

    /// Seals `samples` (16-bit PCM) to `centre` and signs the whole chunk with `device`.
    public static func seal(_ samples: [Int16], header: Header, centre: Curve25519.KeyAgreement.PublicKey,
                            device: Curve25519.Signing.PrivateKey) throws -> EvidenceChunk {
        var pcm = [UInt8]()
        pcm.reserveCapacity(samples.count * 2)
        for sample in samples { pcm.append(UInt8(truncatingIfNeeded: sample)); pcm.append(UInt8(truncatingIfNeeded: sample >> 8)) }
        let headerBytes = header.encoded
        var sender = try HPKE.Sender(recipientKey: centre, ciphersuite: ciphersuite, info: info)
        let ciphertext = Array(try sender.seal(pcm, authenticating: headerBytes))
        let encapsulated = Array(sender.encapsulatedKey)
        var out = magic
        out += be16(headerBytes.count) + headerBytes + be16(encapsulated.count) + encapsulated + be32(ciphertext.count) + ciphertext
        out += Array(try device.signature(for: out))
        return EvidenceChunk(header: header, bytes: out)
    }

    /// Checks the signature (against the key the chunk names) and returns the header, without decrypting.
    public static func verify(_ bytes: [UInt8]) throws(ChunkError) -> (header: Header, encapsulated: [UInt8], ciphertext: [UInt8]) {
        var index = 0
        func take(_ n: Int) throws(ChunkError) -> [UInt8] {
            guard n >= 0, index + n <= bytes.count else { throw .truncated }
            defer { index += n }
            return Array(bytes[index..<(index + n)])
        }
        guard try take(4) == magic else { throw .notAChunk }
        let headerLength = Int(try take(2).reduce(0) { $0 << 8 | UInt32($1) })
        let headerBytes = try take(headerLength)
        let encapsulatedLength = Int(try take(2).reduce(0) { $0 << 8 | UInt32($1) })
        let encapsulated = try take(encapsulatedLength)
        let cipherLength = Int(try take(4).reduce(0) { $0 << 8 | UInt32($1) })
        let ciphertext = try take(cipherLength)
        let signed = Array(bytes[0..<index])
        let signature = try take(64)
        guard index == bytes.count else { throw .inconsistent("trailing bytes after the signature") }
        guard let header = Header.decode(headerBytes) else { throw .notAChunk }
        guard let signer = try? Curve25519.Signing.PublicKey(rawRepresentation: header.devicePublicKey),
              signer.isValidSignature(signature, for: signed) else { throw .badSignature }
        return (header, encapsulated, ciphertext)
    }

    /// Verifies, then decrypts with the centre's private key.
    public static func open(_ bytes: [UInt8], centre: Curve25519.KeyAgreement.PrivateKey) throws(ChunkError) -> (header: Header, samples: [Int16]) {
        let (header, encapsulated, ciphertext) = try verify(bytes)
        let pcm: [UInt8]
        do {
            var recipient = try HPKE.Recipient(privateKey: centre, ciphersuite: ciphersuite, info: info, encapsulatedKey: Data(encapsulated))
            pcm = Array(try recipient.open(ciphertext, authenticating: header.encoded))
        } catch {
            throw .cannotDecrypt
        }
        guard pcm.count == header.sampleCount * 2 else { throw .inconsistent("sample count does not match the header") }
        var samples = [Int16]()
        samples.reserveCapacity(header.sampleCount)
        for i in stride(from: 0, to: pcm.count, by: 2) { samples.append(Int16(bitPattern: UInt16(pcm[i]) | UInt16(pcm[i + 1]) << 8)) }
        return (header, samples)
    }

    static func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
}
