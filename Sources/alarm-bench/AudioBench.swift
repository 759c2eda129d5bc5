import ALSA
import AlarmRuntime
import BenchHarness
import Crypto
import Evidence
import Glibc
import HAL
import Logging
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

    /// The listen-in bridge's own hop: a captured 20 ms period handed to the bridge → the writer thread hands it
    /// to the playback device. Beside it sits the bridge's hard bound (60 ms of queued audio at most, oldest
    /// dropped); the playback PCM's own buffer (three 20 ms periods) is the device's, not the bridge's.
    func bridgeCases(_ harness: inout BenchmarkHarness, iterations: Int) {
        let output = StampingOutput()
        let bridge = AudioBridge(open: { output }, bound: .milliseconds(60), logger: Logger(label: "bench"))
        bridge.start()
        defer { bridge.stop() }
        let period = [Int16](repeating: 100, count: 160)
        harness.run("bridge.push-to-playback",
                        definition: "AudioBridge.push of one 20 ms period at 8 kHz → VoiceOutput.play called on the writer thread (the bridge's added latency while it keeps up; bounded by 60 ms when it does not)",
                        iterations: iterations) {
            let start = SystemTime.monotonicNanoseconds()
            bridge.push(period)
            return output.waitForNext() - start
        }
    }
}

/// Records when each period reached the "device".
final class StampingOutput: VoiceOutput, @unchecked Sendable {
    private var stamps: [Int64] = []
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }
    func play(_ samples: [Int16]) throws(HALError) {
        let now = SystemTime.monotonicNanoseconds()
        pthread_mutex_lock(&mutex)
        stamps.append(now)
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }
    func waitForNext() -> Int64 {
        pthread_mutex_lock(&mutex)
        while stamps.isEmpty { pthread_cond_wait(&cond, &mutex) }
        let stamp = stamps.removeFirst()
        pthread_mutex_unlock(&mutex)
        return stamp
    }
    func close() {}
}
