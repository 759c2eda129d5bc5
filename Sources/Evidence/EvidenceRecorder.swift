import AlarmCore
import Crypto

/// Where sealed chunks go (a directory per recording on the device; memory in tests). Writes must be durable when
/// they return: a power loss then costs at most the chunk being filled.
public protocol EvidenceStore: Sendable {
    func write(recording: String, sequence: Int, bytes: [UInt8]) throws
    /// Recordings on storage, oldest first, with their size in bytes.
    func recordings() throws -> [(id: String, bytes: Int)]
    func remove(recording: String) throws
}

/// Keeps the last `preTrigger` of audio in memory (so the recording starts before the press), and from the trigger
/// until the alarm ends seals every `chunkDuration` of audio to the centre and stores it. Storage is bounded: the
/// oldest closed recordings go first, never the one being recorded.
public final class EvidenceRecorder {
    public struct Settings: Sendable {
        public var deviceID: String
        public var sampleRate: Int
        public var preTrigger: Duration = .seconds(30)
        public var chunkDuration: Duration = .seconds(5)
        public var storageLimitBytes = 64 * 1024 * 1024

        public init(deviceID: String, sampleRate: Int) {
            self.deviceID = deviceID
            self.sampleRate = sampleRate
        }
    }

    let settings: Settings
    let centre: Curve25519.KeyAgreement.PublicKey
    let device: Curve25519.Signing.PrivateKey
    let store: any EvidenceStore
    /// Samples of the ring (pre-trigger) or of the chunk being filled, and when the first of them was captured.
    var ring: [Int16] = []
    var ringStart: Int64 = 0
    var recording: (id: String, sequence: Int)?
    var chunk: [Int16] = []
    var chunkStart: Int64 = 0

    public init(settings: Settings, centre: Curve25519.KeyAgreement.PublicKey, device: Curve25519.Signing.PrivateKey,
                store: any EvidenceStore) {
        self.settings = settings
        self.centre = centre
        self.device = device
        self.store = store
    }

    var ringCapacity: Int { Int(settings.preTrigger.milliseconds) * settings.sampleRate / 1000 }
    var chunkCapacity: Int { max(1, Int(settings.chunkDuration.milliseconds) * settings.sampleRate / 1000) }

    /// Samples held for the pre-trigger window now (never more than the configured time).
    public var bufferedSamples: Int { ring.count }
    public var isRecording: Bool { recording != nil }

    /// Audio as it is captured; `capturedAt` is the UTC time of the first sample (ms).
    public func append(_ samples: [Int16], capturedAt: Int64) throws {
        guard recording != nil else {
            if ring.isEmpty { ringStart = capturedAt }
            ring += samples
            let excess = ring.count - ringCapacity
            if excess > 0 {
                ring.removeFirst(excess)
                ringStart = capturedAt + Int64(samples.count - ring.count) * 1000 / Int64(settings.sampleRate)
            }
            return
        }
        if chunk.isEmpty { chunkStart = capturedAt }
        chunk += samples
        while chunk.count >= chunkCapacity {
            let full = Array(chunk.prefix(chunkCapacity))
            chunk.removeFirst(chunkCapacity)
            try seal(full, start: chunkStart)
            chunkStart += Int64(chunkCapacity) * 1000 / Int64(settings.sampleRate)
        }
    }

    /// The alarm was raised: what the ring holds becomes the start of the recording.
    public func start(recordingID: String) throws {
        guard recording == nil else { return }
        try makeRoom()
        recording = (recordingID, 0)
        let held = ring
        ring = []
        chunk = []
        try append(held, capturedAt: ringStart)
    }

    /// The alarm ended: the last partial chunk is stored and the recording is closed.
    public func stop() throws {
        guard recording != nil else { return }
        if !chunk.isEmpty { try seal(chunk, start: chunkStart) }
        chunk = []
        recording = nil
    }

    func seal(_ samples: [Int16], start: Int64) throws {
        guard var current = recording else { return }
        let header = EvidenceChunk.Header(deviceID: settings.deviceID, recordingID: current.id, sequence: current.sequence,
                                          capturedAtMilliseconds: start, sampleRate: settings.sampleRate, sampleCount: samples.count,
                                          devicePublicKey: Array(device.publicKey.rawRepresentation))
        let chunk = try EvidenceChunk.seal(samples, header: header, centre: centre, device: device)
        try store.write(recording: current.id, sequence: current.sequence, bytes: chunk.bytes)
        current.sequence += 1
        recording = current
        try makeRoom()
    }

    /// Oldest closed recordings go until the store is within its bound; the one being recorded never goes.
    func makeRoom() throws {
        var list = try store.recordings()
        var total = list.reduce(0) { $0 + $1.bytes }
        while total > settings.storageLimitBytes, let oldest = list.first(where: { $0.id != recording?.id }) {
            try store.remove(recording: oldest.id)
            total -= oldest.bytes
            list.removeAll { $0.id == oldest.id }
        }
    }
}
