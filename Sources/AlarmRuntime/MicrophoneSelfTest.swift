import AlarmCore
import AudioChecks
import HAL
import Synchronization

/// The microphone self-test: at start and every `interval` (default 6 h) one second of audio is classified (dead,
/// clipped, plausible); a fault is device trouble for the centre and shows in `alarmctl status`. On boards that record
/// evidence the microphone runs anyway and the window is taken from that stream; elsewhere it is switched on for the
/// window only (never during an alarm, when the call needs it undisturbed).
final class MicrophoneSelfTest: Sendable {
    struct State {
        var collecting: [Int16]?
        var verdict = "not tested yet"
        var timer: (any Cancellable)?
        var ownsCapture = false
    }

    static let window = 8000
    let interval: Duration
    let state = Mutex(State())

    init(interval: Duration) { self.interval = interval }

    var verdict: String { state.withLock { $0.verdict } }

    /// Starts a window; returns whether the microphone must be switched on for it.
    func begin(microphoneAlreadyRunning: Bool) -> Bool {
        state.withLock { s in
            guard s.collecting == nil else { return false }
            s.collecting = []
            s.ownsCapture = !microphoneAlreadyRunning
            return !microphoneAlreadyRunning
        }
    }

    /// Feeds audio; returns the verdict and whether to switch the microphone off once the window is full.
    func feed(_ samples: [Int16]) -> (MicrophoneCheck.Verdict, stopCapture: Bool)? {
        state.withLock { s in
            guard var window = s.collecting else { return nil }
            window += samples
            guard window.count >= Self.window else {
                s.collecting = window
                return nil
            }
            s.collecting = nil
            let verdict = MicrophoneCheck.classify(Array(window.prefix(Self.window)))
            s.verdict = verdict.description
            let stop = s.ownsCapture
            s.ownsCapture = false
            return (verdict, stop)
        }
    }

    /// The alarm takes the microphone over mid-window: this window is dropped (the next one comes with the interval).
    func abandon() {
        state.withLock { s in
            s.collecting = nil
            s.ownsCapture = false
        }
    }

    /// A microphone that does not start at all is a dead microphone.
    func failed(_ why: String) -> MicrophoneCheck.Verdict {
        state.withLock { s in
            s.collecting = nil
            s.ownsCapture = false
            s.verdict = "dead (\(why))"
        }
        return .dead(why)
    }
}

extension DeviceRuntime {
    func scheduleMicrophoneSelfTest(after delay: Duration) {
        guard let test = microphoneSelfTest else { return }
        let timer = clock.schedule(after: delay) { [self] in
            runMicrophoneSelfTest()
            scheduleMicrophoneSelfTest(after: test.interval)
        }
        test.state.withLock { $0.timer?.cancel(); $0.timer = timer }
    }

    func runMicrophoneSelfTest() {
        guard let test = microphoneSelfTest, let audio = backends.audio else { return }
        let alarmActive = inner.withLock { $0.state.activeAlarm != nil }
        let continuous = backends.evidence != nil
        // During an alarm the microphone belongs to the call (and the evidence): no test that switches it.
        if alarmActive && !continuous { return }
        guard test.begin(microphoneAlreadyRunning: continuous) else { return }
        guard !continuous else { return }  // the evidence stream feeds the window
        do {
            try audio.start { [self] result in
                if case .success(let frame) = result { microphoneSamples(frame.samples) }
            }
        } catch {
            concludeMicrophoneTest(test.failed("does not start: \(error.kind.rawValue)"))
        }
    }

    func microphoneSamples(_ samples: [Int16]) {
        guard let test = microphoneSelfTest, let (verdict, stop) = test.feed(samples) else { return }
        if stop { backends.audio?.stop() }
        concludeMicrophoneTest(verdict)
    }

    func concludeMicrophoneTest(_ verdict: MicrophoneCheck.Verdict) {
        publish(.device, "microphone self-test: \(verdict)")
        if verdict.isFault { logger.error("microphone self-test failed", metadata: ["verdict": "\(verdict)"]) }
        post(.microphoneHealth(!verdict.isFault))
    }
}
