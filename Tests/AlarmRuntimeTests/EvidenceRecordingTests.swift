import AlarmCore
@testable import AlarmRuntime
import AlarmSimulation
import Crypto
import Evidence
import Glibc
import HAL
import Logging
import PosixIO
import SimBackends
import Testing

/// The microphone (simulated here) runs from the start; the alarm opens a recording that begins before the press;
/// the centre's key gives it back as audio; nothing on the device can.
@Suite struct EvidenceRecordingTests {
    func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    static let quiet = Logger(label: "ev", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A simulator board with the `sim:` microphone and evidence recording, assembled and started on a manual clock;
    /// the centre's private key opens what it records.
    struct EvidenceDevice {
        let device: SimulatedDevice
        let clock: ManualClock
        let centre: Curve25519.KeyAgreement.PrivateKey
        let dir: String
        var store: FileEvidenceStore { get throws { FileEvidenceStore(root: try StorageDirectory(path: dir + "/state/evidence")) } }
    }

    func evidenceDevice(_ dir: String, deviceID: String, chunk: String) throws -> EvidenceDevice {
        let storage = try StorageDirectory(path: dir)
        let centre = Curve25519.KeyAgreement.PrivateKey()
        try storage.replaceAtomically("centre.pub", with: Array(hex(centre.publicKey.rawRepresentation).utf8))
        let text = """
            { name: "ev", kind: "simulator", device: { id: "\(deviceID)" }, silence: "no-speaker",
              roles: { button: "sim:", position: "sim:", modem: "sim:", reportLink: "sim:", audio: "sim:" },
              storage: "\(dir)/state", controlSocket: "\(dir)/sock",
              alarm: { centreNumbers: ["+3292000101"] },
              evidence: { centreKeyFile: "\(dir)/centre.pub", preTrigger: "2s", chunk: "\(chunk)" } }
            """
        let board = try Board.parse(Array(text.utf8), file: "boards/ev.json5")
        let clock = ManualClock()
        let device = try SimulationAssembly.assemble(board, clock: clock, logger: Self.quiet, store: InMemoryRecordStore())
        try device.start()
        return EvidenceDevice(device: device, clock: clock, centre: centre, dir: dir)
    }

    /// The runtime's recording alone over a file store (1 s pre-trigger, 8 kHz, 250 ms batches), fed by hand.
    func recordingOnDisk(_ dir: String, deviceID: String, chunk: Duration)
        throws -> (recording: EvidenceRecording, store: FileEvidenceStore, centre: Curve25519.KeyAgreement.PrivateKey) {
        let store = FileEvidenceStore(root: try StorageDirectory(path: dir))
        let centre = Curve25519.KeyAgreement.PrivateKey()
        var settings = EvidenceRecorder.Settings(deviceID: deviceID, sampleRate: 8000)
        settings.preTrigger = .seconds(1)
        settings.chunkDuration = chunk
        let recorder = EvidenceRecorder(settings: settings, centre: centre.publicKey, device: Curve25519.Signing.PrivateKey(), store: store)
        let recording = EvidenceRecording(recorder: recorder, deviceID: deviceID, sampleRate: 8000, batch: .milliseconds(250),
                                          logger: Self.quiet)
        return (recording, store, centre)
    }

    /// One 100 ms period at 8 kHz, every sample the period's number.
    func period(_ number: Int, at utc: Int64, into recording: EvidenceRecording) {
        recording.audio(AudioFrame(samples: [Int16](repeating: Int16(number), count: 800), sampleRate: 8000, capturedAt: .origin),
                        capturedAtUTC: utc)
    }

    /// The chunks of the one recording in `store`, opened with the centre's key.
    func openedChunks(_ store: FileEvidenceStore, centre: Curve25519.KeyAgreement.PrivateKey) throws
        -> [(header: EvidenceChunk.Header, samples: [Int16])] {
        let id = try #require(try store.recordings().first).id
        return try store.chunks(id).map { try EvidenceChunk.open($0, centre: centre) }
    }

    func removeTree(_ dir: String) { _ = try? ChildProcess.spawn("/bin/rm", ["-rf", dir]).wait(timeoutMilliseconds: 10_000) }

    @Test func anAlarmLeavesARecordingOnlyTheCentreCanOpen() throws {
        let world = try evidenceDevice("/tmp/alarm-evidence-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", deviceID: "BE-EV-1", chunk: "1s")
        let (device, clock) = (world.device, world.clock)
        defer { device.stop() }
        for _ in 0..<50 { clock.advance(by: .milliseconds(100)) }  // 5 s before the press: the ring keeps 2 s
        device.simulation.button?.press(holding: .milliseconds(2500))
        for _ in 0..<60 { clock.advance(by: .milliseconds(100)) }  // 2.5 s hold + 3.5 s of alarm
        device.runtime.post(.centre(.endAlarm))
        device.runtime.flushEvidence()

        let store = try world.store
        let recordings = try store.recordings()
        #expect(recordings.count == 1)
        let chunks = try store.chunks(try #require(recordings.first).id)
        #expect(chunks.count >= 5)
        let wav = try EvidenceExport.wav(chunks: chunks, centre: world.centre)
        let seconds = Double(wav.count - 44) / 2 / 8000
        // The 2 s before the alarm was raised (the end of the hold), then about 3.5 s of alarm.
        #expect(seconds >= 5.4 && seconds <= 6.6, "\(seconds) s")
        // The device's own keys do not open it.
        #expect(throws: EvidenceChunk.ChunkError.cannotDecrypt) { try EvidenceChunk.open(chunks[0], centre: Curve25519.KeyAgreement.PrivateKey()) }
    }

    /// Periods reach the recorder in batches; the press hands over what waits, so the recording's pre-trigger part
    /// ends with the last period captured before it, nothing dropped or reordered.
    @Test func batchedAudioReachesTheRecordingUpToThePress() throws {
        let dir = "/tmp/alarm-evidence-batch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { removeTree(dir) }
        let (recording, store, centre) = try recordingOnDisk(dir, deviceID: "BE-EV-2", chunk: .seconds(1))
        // 32 periods of 100 ms, each filled with its own number: batches of 300 ms leave the last two waiting.
        for number in 0..<32 { period(number, at: 1_000 + Int64(number) * 100, into: recording) }
        recording.alarmStarted(number: 1, atUTC: 4_200)
        recording.alarmEnded()
        recording.flush()

        let opened = try openedChunks(store, centre: centre)
        let samples = opened.flatMap(\.samples)
        #expect(samples.count == 8000)  // the 1 s ring, whole
        #expect(samples.first == 22 && samples.last == 31)
        #expect(opened.first?.header.capturedAtMilliseconds == 3_200)
    }

    /// After a gap in capture (an overrun, a reopened device) the audio just before the press keeps its own time:
    /// a batch never spans the gap, so the recorder dates the newest audio by the frame that started it.
    @Test func theNewestAudioKeepsItsTimeAcrossACaptureGap() throws {
        let dir = "/tmp/alarm-evidence-gap-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { removeTree(dir) }
        let (recording, store, centre) = try recordingOnDisk(dir, deviceID: "BE-EV-3", chunk: .seconds(2))
        for number in 0..<10 { period(number, at: 1_000 + Int64(number) * 100, into: recording) }
        period(10, at: 2_500, into: recording)  // 500 ms of audio never arrived before this period
        recording.alarmStarted(number: 1, atUTC: 2_600)
        recording.alarmEnded()
        recording.flush()

        let opened = try openedChunks(store, centre: centre)
        let first = try #require(opened.first)
        let samples = opened.flatMap(\.samples)
        #expect(samples.last == 10)
        // The last period (800 samples) starts where it was captured.
        #expect(first.header.capturedAtMilliseconds + Int64(samples.count - 800) * 1000 / 8000 == 2_500)
    }

    /// The daemon stopping mid-alarm (SIGTERM) seals what the recording holds instead of losing the chunk being filled.
    @Test func stoppingMidAlarmKeepsThePartialChunk() throws {
        let dir = "/tmp/alarm-evidence-stop-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { removeTree(dir) }
        let world = try evidenceDevice(dir, deviceID: "BE-EV-4", chunk: "10s")
        let (device, clock) = (world.device, world.clock)
        for _ in 0..<30 { clock.advance(by: .milliseconds(100)) }
        device.simulation.button?.press(holding: .milliseconds(2500))
        for _ in 0..<40 { clock.advance(by: .milliseconds(100)) }  // the hold, then about 1.5 s of alarm: no chunk full yet
        #expect(device.runtime.status.mode == "alarm")
        device.stop()
        device.runtime.closeEvidence()

        let samples = try openedChunks(try world.store, centre: world.centre).flatMap(\.samples)
        // The 2 s ring and the alarm's first second or so, none of it lost.
        #expect(samples.count >= 8000 * 3)
    }
}
