import AlarmCore
import HAL
import Synchronization

/// A microphone that hears a quiet triangle wave: plausible speech-band level, never all zeros.
/// Control handle: `framesDelivered`, `failNext(_:)`.
public final class SimAudio: AudioCapture {
    private struct State {
        var timer: (any Cancellable)?
        var phase = 0
        var delivered = 0
        var failure: HALError?
    }

    private let clock: any Clock
    private let sampleRate: Int
    private let framePeriod: Duration
    private let relay = Relay<Result<AudioFrame, HALError>>()
    private let state = Mutex(State())

    public init(clock: any Clock, sampleRate: Int = 8000, framePeriod: Duration = .milliseconds(20)) {
        self.clock = clock
        self.sampleRate = sampleRate
        self.framePeriod = framePeriod
    }

    public func start(_ frames: @escaping @Sendable (Result<AudioFrame, HALError>) -> Void) throws(HALError) {
        relay.connect(frames)
        scheduleNext()
    }

    public func stop() {
        state.withLock { $0.timer?.cancel(); $0.timer = nil }
    }

    public var framesDelivered: Int { state.withLock { $0.delivered } }

    /// The next frame is replaced by this error (an overrun, a vanished device).
    public func failNext(_ error: HALError) { state.withLock { $0.failure = error } }

    /// The simulated microphone's sound: a 200 Hz triangle at 8 kHz, ±1500 (about -27 dBFS), from `phase` (0..<40).
    public static func quietTriangle(count: Int, phase: Int = 0) -> [Int16] {
        (0..<count).map { i in
            let p = (phase + i) % 40
            return Int16((p < 20 ? p : 40 - p) * 150 - 1500)
        }
    }

    private func scheduleNext() {
        let timer = clock.schedule(after: framePeriod) { [self] in deliver() }
        state.withLock { $0.timer?.cancel(); $0.timer = timer }
    }

    private func deliver() {
        let count = Int(framePeriod.milliseconds) * sampleRate / 1000
        let outcome: Result<AudioFrame, HALError> = state.withLock { state in
            if let failure = state.failure {
                state.failure = nil
                return .failure(failure)
            }
            let samples = Self.quietTriangle(count: count, phase: state.phase)
            state.phase = (state.phase + count) % 40
            state.delivered += 1
            // Delivered when the period ends, as a real capture is: its first sample is a period old.
            return .success(AudioFrame(samples: samples, sampleRate: sampleRate, capturedAt: clock.now() - framePeriod))
        }
        relay.emit(outcome)
        let running = state.withLock { $0.timer != nil }
        if running { scheduleNext() }
    }
}
