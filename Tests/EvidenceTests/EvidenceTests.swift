import Crypto
import Evidence
import Testing

@Suite struct EvidenceTests {
    let centre = Curve25519.KeyAgreement.PrivateKey()
    let device = Curve25519.Signing.PrivateKey()

    func recording(_ id: String, chunks: Int, samplesPerChunk: Int = 1600, device: Curve25519.Signing.PrivateKey? = nil) throws -> ([[UInt8]], [Int16]) {
        let signer = device ?? self.device
        var all: [Int16] = []
        var out: [[UInt8]] = []
        for n in 0..<chunks {
            let samples = (0..<samplesPerChunk).map { Int16(truncatingIfNeeded: (n * samplesPerChunk + $0) * 37) }
            all += samples
            let header = EvidenceChunk.Header(deviceID: "BE-SIM-0001", recordingID: id, sequence: n,
                                              capturedAtMilliseconds: 1_795_000_000_000 + Int64(n * 200), sampleRate: 8000,
                                              sampleCount: samples.count, devicePublicKey: Array(signer.publicKey.rawRepresentation))
            out.append(try EvidenceChunk.seal(samples, header: header, centre: centre.publicKey, device: signer).bytes)
        }
        return (out, all)
    }

    @Test func exportGivesBackTheSamplesAsAWAV() throws {
        let (chunks, samples) = try recording("R1", chunks: 5)
        let wav = try EvidenceExport.wav(chunks: chunks, centre: centre, expectedSigner: Array(device.publicKey.rawRepresentation))
        #expect(Array(wav.prefix(4)) == Array("RIFF".utf8))
        #expect(wav.count == 44 + samples.count * 2)
        let body = Array(wav.dropFirst(44))
        let decoded = stride(from: 0, to: body.count, by: 2).map { Int16(bitPattern: UInt16(body[$0]) | UInt16(body[$0 + 1]) << 8) }
        #expect(decoded == samples)
    }

    @Test func theDeviceCannotOpenItsOwnRecording() throws {
        let (chunks, _) = try recording("R1", chunks: 1)
        // Anyone holding the device has its signing key and storage, but not the centre's private key.
        let notTheCentre = Curve25519.KeyAgreement.PrivateKey()
        #expect(throws: EvidenceChunk.ChunkError.cannotDecrypt) { try EvidenceChunk.open(chunks[0], centre: notTheCentre) }
        // And the stored chunk does not hold the audio in clear.
        let (_, samples) = try recording("R1", chunks: 1)
        var clear: [UInt8] = []
        for sample in samples.prefix(8) { clear += [UInt8(truncatingIfNeeded: sample), UInt8(truncatingIfNeeded: sample >> 8)] }
        #expect(chunks[0].firstRange(of: clear) == nil)
    }

    @Test func tamperingIsDetected() throws {
        let (chunks, _) = try recording("R1", chunks: 3)
        var flipped = chunks
        flipped[1][flipped[1].count / 2] ^= 0x01
        #expect(throws: EvidenceChunk.ChunkError.badSignature) { try EvidenceExport.wav(chunks: flipped, centre: centre) }
        #expect(throws: EvidenceChunk.ChunkError.self) { try EvidenceExport.wav(chunks: [chunks[0], chunks[2], chunks[1]], centre: centre) }
        #expect(throws: EvidenceChunk.ChunkError.self) { try EvidenceExport.wav(chunks: [chunks[0], chunks[2]], centre: centre) }
        let (other, _) = try recording("R2", chunks: 3)
        #expect(throws: EvidenceChunk.ChunkError.self) { try EvidenceExport.wav(chunks: [chunks[0], other[1], chunks[2]], centre: centre) }
        #expect(throws: EvidenceChunk.ChunkError.truncated) { try EvidenceExport.wav(chunks: [Array(chunks[0].dropLast(10))], centre: centre) }
        // A chunk re-signed by another key (an aggressor re-recording) does not pass a pinned signer.
        let (forged, _) = try recording("R1", chunks: 1, device: Curve25519.Signing.PrivateKey())
        #expect(throws: EvidenceChunk.ChunkError.self) {
            try EvidenceExport.wav(chunks: forged, centre: centre, expectedSigner: Array(device.publicKey.rawRepresentation))
        }
    }
}

final class MemoryEvidenceStore: EvidenceStore, @unchecked Sendable {
    var chunks: [String: [Int: [UInt8]]] = [:]
    var order: [String] = []
    func write(recording: String, sequence: Int, bytes: [UInt8]) throws {
        if chunks[recording] == nil { order.append(recording) }
        chunks[recording, default: [:]][sequence] = bytes
    }
    func recordings() throws -> [(id: String, bytes: Int)] {
        order.map { id in (id, chunks[id]!.values.reduce(0) { $0 + $1.count }) }
    }
    func remove(recording: String) throws {
        chunks[recording] = nil
        order.removeAll { $0 == recording }
    }
    func ordered(_ id: String) -> [[UInt8]] { (chunks[id] ?? [:]).keys.sorted().map { chunks[id]![$0]! } }
}

@Suite struct EvidenceRecorderTests {
    let centre = Curve25519.KeyAgreement.PrivateKey()
    let device = Curve25519.Signing.PrivateKey()

    func recorder(_ store: MemoryEvidenceStore, limit: Int = 64 << 20) -> EvidenceRecorder {
        var settings = EvidenceRecorder.Settings(deviceID: "BE-1", sampleRate: 8000)
        settings.preTrigger = .seconds(3)
        settings.chunkDuration = .seconds(1)
        settings.storageLimitBytes = limit
        return EvidenceRecorder(settings: settings, centre: centre.publicKey, device: device, store: store)
    }

    func ramp(_ from: Int, _ count: Int) -> [Int16] { (from..<(from + count)).map { Int16(truncatingIfNeeded: $0) } }

    @Test func preTriggerAudioLeadsTheRecordingAndNothingIsLost() throws {
        let store = MemoryEvidenceStore()
        let r = recorder(store)
        // 10 s before the press, in 20 ms frames: the ring keeps exactly the last 3 s.
        var position = 0
        for _ in 0..<500 {
            try r.append(ramp(position, 160), capturedAt: Int64(position) / 8)
            position += 160
        }
        #expect(r.bufferedSamples == 24_000)
        try r.start(recordingID: "A1")
        for _ in 0..<150 {  // 3 s of alarm
            try r.append(ramp(position, 160), capturedAt: Int64(position) / 8)
            position += 160
        }
        try r.stop()
        let wav = try EvidenceExport.wav(chunks: store.ordered("A1"), centre: centre)
        let body = Array(wav.dropFirst(44))
        let samples = stride(from: 0, to: body.count, by: 2).map { Int16(bitPattern: UInt16(body[$0]) | UInt16(body[$0 + 1]) << 8) }
        #expect(samples == ramp(position - 48_000, 48_000), "the last 3 s before the press, then the alarm, in order")
        #expect(store.ordered("A1").count == 6)
    }

    @Test func storageBoundDropsOldestClosedRecordingsNeverTheCurrentOne() throws {
        let store = MemoryEvidenceStore()
        let r = recorder(store, limit: 40_000)
        for id in ["R1", "R2", "R3"] {
            try r.start(recordingID: id)
            for n in 0..<100 { try r.append(ramp(n * 160, 160), capturedAt: Int64(n * 20)) }
            try r.stop()
        }
        // Each recording is two 1-second chunks of about 16 KB: only the newest fits under 40 KB.
        #expect(try store.recordings().map(\.id) == ["R3"])
        #expect(try store.recordings().reduce(0) { $0 + $1.bytes } <= 40_000)
    }
}
