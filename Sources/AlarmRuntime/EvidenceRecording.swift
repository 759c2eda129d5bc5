import AlarmCore
import Crypto
import Dispatch
import Evidence
import HAL
import Logging
import Synchronization

/// The runtime's side of evidence: the microphone runs all the time the board records evidence (the pre-trigger ring
/// needs it); the alarm starts and ends a recording. Sealing and fsync happen on their own queue, never on the
/// thread that processes events.
public final class EvidenceRecording: Sendable {
    final class Box: @unchecked Sendable {
        // Only touched on `queue`.
        let recorder: EvidenceRecorder
        init(_ recorder: EvidenceRecorder) { self.recorder = recorder }
    }

    let box: Box
    let queue = DispatchQueue(label: "alarmd.evidence")
    let logger: Logger
    let deviceID: String
    let failures = Mutex(0)
    /// Captured audio not yet handed to `queue` (UTC ms of its first sample). Frames cross in batches of at least
    /// `batchSamples`, so the always-open microphone costs a queue hop (a thread wake-up) a few times a second
    /// instead of once per period. Every hand-over is queued under this lock, so batches, the alarm's start and
    /// its end reach the recorder in the order they happened.
    let waiting = Mutex<(samples: [Int16], capturedAtUTC: Int64)>(([], 0))
    let batchSamples: Int
    /// Frame times jitter by the capture thread's scheduling; beyond this a frame does not continue the batch.
    static let gapToleranceMilliseconds: Int64 = 10

    /// `batch`: the most audio that waits before it is handed over (the recorder sees it that much later; the alarm
    /// hands it over at once).
    public init(recorder: EvidenceRecorder, deviceID: String, sampleRate: Int = 8000, batch: Duration = .milliseconds(250),
                logger: Logger) {
        box = Box(recorder)
        self.logger = logger
        self.deviceID = deviceID
        batchSamples = max(1, Int(batch.milliseconds) * sampleRate / 1000)
    }

    func audio(_ frame: AudioFrame, capturedAtUTC: Int64) {
        waiting.withLock { waiting in
            // A batch is one stretch of time (the recorder dates it by its first sample): after a gap (an overrun,
            // a reopened device) what waits goes first and the new frame starts a batch of its own.
            if !waiting.samples.isEmpty {
                let continuesAt = waiting.capturedAtUTC + Int64(waiting.samples.count) * 1000 / Int64(frame.sampleRate)
                if abs(capturedAtUTC - continuesAt) > Self.gapToleranceMilliseconds { handOver(&waiting) }
            }
            if waiting.samples.isEmpty { waiting.capturedAtUTC = capturedAtUTC }
            waiting.samples += frame.samples
            if waiting.samples.count >= batchSamples { handOver(&waiting) }
        }
    }

    /// Queues the waiting audio for the recorder; called under `waiting`'s lock.
    private func handOver(_ waiting: inout (samples: [Int16], capturedAtUTC: Int64)) {
        guard !waiting.samples.isEmpty else { return }
        let (samples, capturedAt) = (waiting.samples, waiting.capturedAtUTC)
        waiting.samples = []
        queue.async { [self] in
            do {
                try box.recorder.append(samples, capturedAt: capturedAt)
            } catch {
                let first = failures.withLock { count -> Bool in
                    count += 1
                    return count == 1
                }
                if first { logger.error("evidence chunk could not be stored", metadata: ["error": "\(error)"]) }
            }
        }
    }

    func alarmStarted(number: Int, atUTC: Int64) {
        let id = "\(atUTC)-\(deviceID)-\(number)"
        waiting.withLock { waiting in
            // The last moments before the press belong to the ring, so to the recording.
            handOver(&waiting)
            queue.async { [box, logger] in
                do { try box.recorder.start(recordingID: id) } catch {
                    logger.error("evidence recording could not start", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    func alarmEnded() {
        waiting.withLock { waiting in
            handOver(&waiting)
            queue.async { [box, logger] in
                do { try box.recorder.stop() } catch {
                    logger.error("evidence recording could not be closed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Hands over what waits and waits for every chunk decided so far (tests, shutdown).
    public func flush() {
        waiting.withLock { handOver(&$0) }
        queue.sync {}
    }
}
