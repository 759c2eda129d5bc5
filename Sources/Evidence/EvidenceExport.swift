import Crypto

/// The centre's side: a whole recording from its chunks, checked and turned into a WAV.
public enum EvidenceExport {
    /// Verifies every chunk, their order (sequences 0, 1, 2 … without a gap), that they all belong to one recording
    /// of one device signed by one key (`expectedSigner` when the centre pins the device's registered key), decrypts
    /// them and returns a 16-bit mono WAV. Any tampered, missing, foreign or reordered chunk is refused.
    public static func wav(chunks: [[UInt8]], centre: Curve25519.KeyAgreement.PrivateKey,
                           expectedSigner: [UInt8]? = nil) throws(EvidenceChunk.ChunkError) -> [UInt8] {
        guard !chunks.isEmpty else { throw .inconsistent("no chunks") }
        var samples: [Int16] = []
        var first: EvidenceChunk.Header?
        for (position, bytes) in chunks.enumerated() {
            let (header, pcm) = try EvidenceChunk.open(bytes, centre: centre)
            if let expectedSigner, header.devicePublicKey != expectedSigner {
                throw .inconsistent("chunk \(position) is signed by a key other than the device's registered one")
            }
            if let first {
                guard header.recordingID == first.recordingID, header.deviceID == first.deviceID else {
                    throw .inconsistent("chunk \(position) belongs to another recording (\(header.recordingID))")
                }
                guard header.devicePublicKey == first.devicePublicKey else { throw .inconsistent("chunk \(position) has another signer") }
                guard header.sampleRate == first.sampleRate else { throw .inconsistent("chunk \(position) changes the sample rate") }
            }
            guard header.sequence == position else {
                throw .inconsistent("chunk \(position) carries sequence \(header.sequence): missing or reordered chunks")
            }
            first = first ?? header
            samples += pcm
        }
        return wavFile(samples, sampleRate: first!.sampleRate)
    }

    static func wavFile(_ samples: [Int16], sampleRate: Int) -> [UInt8] {
        func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        let dataBytes = samples.count * 2
        var out = Array("RIFF".utf8) + le32(36 + dataBytes) + Array("WAVE".utf8)
        out += Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(sampleRate) + le32(sampleRate * 2) + le16(2) + le16(16)
        out += Array("data".utf8) + le32(dataBytes)
        for sample in samples { out += le16(Int(UInt16(bitPattern: sample))) }
        return out
    }
}
