import AlarmRuntime
import Crypto
import Evidence
import PosixIO

extension AlarmBench {
    /// Sealing and signing evidence at 16 kHz: the time one 5-second chunk costs (its share of one core is this
    /// divided by 5 s). Capture itself is a blocking read per period and costs next to nothing beside it.
    func audioCases(_ harness: inout BenchmarkHarness, iterations: Int) throws {
        let centre = Curve25519.KeyAgreement.PrivateKey().publicKey
        let device = Curve25519.Signing.PrivateKey()
        let samples = (0..<80_000).map { Int16(truncatingIfNeeded: $0 &* 31) }
        var sequence = 0
        try harness.run("evidence.seal-5s-at-16kHz",
                        definition: "EvidenceChunk.seal of 5 s of 16 kHz mono (HPKE X25519/ChaCha20-Poly1305 + Ed25519); CPU share = this / 5 s",
                        iterations: min(iterations, 200)) {
            sequence += 1
            let header = EvidenceChunk.Header(deviceID: "BENCH", recordingID: "R", sequence: sequence, capturedAtMilliseconds: 0,
                                              sampleRate: 16_000, sampleCount: samples.count,
                                              devicePublicKey: Array(device.publicKey.rawRepresentation))
            let start = SystemTime.monotonicNanoseconds()
            _ = try EvidenceChunk.seal(samples, header: header, centre: centre, device: device)
            return SystemTime.monotonicNanoseconds() - start
        }
    }
}
