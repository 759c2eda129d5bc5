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

    public init(recorder: EvidenceRecorder, deviceID: String, logger: Logger) {
        box = Box(recorder)
        self.logger = logger
        self.deviceID = deviceID
    }

    func audio(_ frame: AudioFrame, capturedAtUTC: Int64) {
        queue.async { [self] in
            do {
                try box.recorder.append(frame.samples, capturedAt: capturedAtUTC)
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
        queue.async { [box, logger] in
            do { try box.recorder.start(recordingID: id) } catch {
                logger.error("evidence recording could not start", metadata: ["error": "\(error)"])
            }
        }
    }

    func alarmEnded() {
        queue.async { [box, logger] in
            do { try box.recorder.stop() } catch {
                logger.error("evidence recording could not be closed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits for every chunk decided so far (tests, shutdown).
    public func flush() { queue.sync {} }
}
