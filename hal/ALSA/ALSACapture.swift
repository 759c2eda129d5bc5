import AlarmCore
import CALSA
import CALSAShim
import Dispatch
import Glibc
import HAL
import Logging
import Synchronization

/// The microphone through ALSA. A dedicated thread makes blocking, period-sized reads and hands each period
/// to the callback as one mono `AudioFrame`, on that thread: nothing queues up behind a slow consumer, the
/// device overruns instead (recovered and counted). A device that is missing or vanishes is reported once as
/// `.unavailable` and reopened with backoff on the injected clock. ALSA's own diagnostics go to the logger.
public final class ALSACapture: AudioCapture {
    public let pcm: String
    public let sampleRate: Int
    public let channels: Int
    public let periodFrames: Int

    private let settings: PCMSettings
    private let clock: any Clock
    private let logger: Logger
    private let opener: PCMOpener
    private let counters = Counters()
    private let session = Mutex<Session?>(nil)

    /// `pcm`: an ALSA PCM name (e.g. "plughw:0,0", or one defined in `configText`). `configText`: an ALSA
    /// configuration used instead of the system's (/usr/share/alsa, /etc/asound.conf) when given; names the
    /// system defines, such as "null", do not exist in it. `sampleRate`: 8000 or 16000. `channels`: what the
    /// device delivers; frames carry channel 0 only. `periodFrames`: the size of each read and of each frame.
    /// `pacedToRealTime`: for file-backed PCMs, which never block: each read waits (blocked, on the capture thread)
    /// until its period is due on the monotonic clock, so a file plays at the speed of a microphone.
    public convenience init(pcm: String, configText: String? = nil, sampleRate: Int, channels: Int, periodFrames: Int,
                            pacedToRealTime: Bool = false, clock: any Clock, logger: Logger) {
        self.init(PCMSettings(pcm: pcm, configText: configText, sampleRate: sampleRate, channels: channels,
                              periodFrames: periodFrames, pacedToRealTime: pacedToRealTime),
                  clock: clock, logger: logger, opener: ALSAPCM.opener)
    }

    init(_ settings: PCMSettings, clock: any Clock, logger: Logger, opener: @escaping PCMOpener) {
        self.settings = settings
        pcm = settings.pcm
        sampleRate = settings.sampleRate
        channels = settings.channels
        periodFrames = settings.periodFrames
        self.clock = clock
        self.logger = logger
        self.opener = opener
    }

    deinit { stop() }

    /// Returns at once; opening happens on the capture thread, so a missing device arrives as a `.failure`
    /// through `frames` rather than as a throw. Starting again while running only replaces the callback.
    public func start(_ frames: @escaping @Sendable (Result<AudioFrame, HALError>) -> Void) throws(HALError) {
        guard settings.sampleRate == 8000 || settings.sampleRate == 16000 else {
            throw HALError(.unavailable, "ALSA capture runs at 8000 or 16000 Hz, not \(settings.sampleRate)")
        }
        guard settings.channels >= 1, settings.periodFrames >= 1 else {
            throw HALError(.unavailable, "ALSA capture needs at least one channel and one frame per period")
        }
        try session.withLock { (current: inout Session?) throws(HALError) in
            if let current {
                current.connect(frames)
                return
            }
            let fresh = Session(settings: settings, clock: clock, logger: logger, opener: opener,
                                counters: counters, sink: frames)
            try fresh.spawn()
            current = fresh
        }
    }

    /// Ends capture and closes the device before returning (bounded: a read stuck in a broken driver is left
    /// to finish on its own, and the device is closed when it does). Idempotent; callable from the callback.
    public func stop() {
        let ending = session.withLock { current in
            defer { current = nil }
            return current
        }
        ending?.stop()
    }

    /// Overruns (`-EPIPE`) recovered since creation.
    public var overruns: Int { counters.snapshot.overruns }
    /// `AudioFrame`s (one per period) handed to the callback.
    public var framesDelivered: Int { counters.snapshot.framesDelivered }
    /// `snd_pcm_readi` calls made.
    public var readsIssued: Int { counters.snapshot.readsIssued }
    /// The largest read requested, in frames: never more than `periodFrames`.
    public var largestRead: Int { counters.snapshot.largestRead }
    /// Attempts to open the device, successful or not.
    var openAttempts: Int { counters.snapshot.openAttempts }
}

private final class Counters: Sendable {
    struct Values {
        var overruns = 0
        var framesDelivered = 0
        var readsIssued = 0
        var largestRead = 0
        var openAttempts = 0
    }

    private let values = Mutex(Values())

    func update(_ body: (inout Values) -> Void) { values.withLock { body(&$0) } }
    var snapshot: Values { values.withLock { $0 } }
}

/// One start-to-stop run of the capture thread. A fresh one per start, so a thread that outlives `stop()`
/// (stuck in a driver) can never deliver into, or be confused with, the next run.
private final class Session: Sendable {
    static let firstRetry = Duration.milliseconds(500)
    static let lastRetry = Duration.seconds(30)
    static let stopWait = DispatchTimeInterval.seconds(2)

    private struct State {
        var stopped = false
        var sink: (@Sendable (Result<AudioFrame, HALError>) -> Void)?
        var retry: (any Cancellable)?
        var thread: pthread_t?
    }

    let settings: PCMSettings
    private let clock: any Clock
    private let logger: Logger
    private let opener: PCMOpener
    private let counters: Counters
    private let state: Mutex<State>
    /// Signalled by the retry timer and by `stop()`: the thread waits here, never polls, while the device is gone.
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    init(settings: PCMSettings, clock: any Clock, logger: Logger, opener: @escaping PCMOpener, counters: Counters,
         sink: @escaping @Sendable (Result<AudioFrame, HALError>) -> Void) {
        self.settings = settings
        self.clock = clock
        var logger = logger
        logger[metadataKey: "pcm"] = "\(settings.pcm)"
        self.logger = logger
        self.opener = opener
        self.counters = counters
        state = Mutex(State(sink: sink))
    }

    func connect(_ sink: @escaping @Sendable (Result<AudioFrame, HALError>) -> Void) {
        state.withLock { if !$0.stopped { $0.sink = sink } }
    }

    /// A dedicated thread rather than a dispatch queue: it spends its life blocked in `snd_pcm_readi`, which
    /// would pin a shared worker.
    func spawn() throws(HALError) {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let session = Unmanaged<Session>.fromOpaque(raw!).takeRetainedValue()
            session.run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Session>.fromOpaque(context).release()
            throw HALError(.io, "cannot start the capture thread: \(String(cString: strerror(status)))")
        }
        pthread_detach(thread)
    }

    func stop() {
        let (retry, thread) = state.withLock { state in
            state.stopped = true
            state.sink = nil
            defer { state.retry = nil }
            return (state.retry, state.thread)
        }
        retry?.cancel()
        wake.signal()
        // From the callback, on the capture thread: waiting for it would wait for ourselves. The loop sees
        // `stopped` as soon as the callback returns.
        if let thread, pthread_equal(thread, pthread_self()) != 0 { return }
        if exited.wait(timeout: .now() + Self.stopWait) == .timedOut {
            logger.warning("capture thread still inside a read; it closes the device when the read returns")
        }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func run() {
        state.withLock { $0.thread = pthread_self() }
        _ = alsaMessagesRouted
        calsa_set_thread_context(Unmanaged.passUnretained(self).toOpaque())
        let buffer = UnsafeMutablePointer<Int16>.allocate(capacity: settings.periodFrames * settings.channels)
        defer {
            buffer.deallocate()
            calsa_set_thread_context(nil)
            exited.signal()
        }
        var backoff = Self.firstRetry
        var reportedDown = false
        while !isStopped {
            counters.update { $0.openAttempts += 1 }
            let device: any PCMDevice
            do {
                device = try opener(settings)
            } catch {
                let failure = reportedDown ? nil : HALError(.unavailable, "\(settings.pcm): \(error)")
                guard retry(after: backoff, reason: "\(error)", failure: failure) else { break }
                reportedDown = true
                backoff = min(backoff * 2, Self.lastRetry)
                continue
            }
            if reportedDown { logger.notice("capture device available again") }
            reportedDown = false
            backoff = Self.firstRetry
            let lost = capture(from: device, into: buffer)
            device.close()
            guard let lost else { break }
            let reason = String(cString: snd_strerror(lost))
            guard retry(after: backoff, reason: reason, failure: HALError(.unavailable, "\(settings.pcm): \(reason)"))
            else { break }
            reportedDown = true
            backoff = min(backoff * 2, Self.lastRetry)
        }
    }

    /// Schedules the next open attempt before anyone hears of the outage (so a listener that reacts to the
    /// failure finds the attempt already scheduled), then waits for it. False once stopped.
    private func retry(after delay: Duration, reason: String, failure: HALError?) -> Bool {
        let scheduled = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.retry = clock.schedule(after: delay) { [wake] in wake.signal() }
            return true
        }
        guard scheduled else { return false }
        let metadata: Logger.Metadata = ["error": "\(reason)", "retry-in": "\(delay)"]
        if let failure {
            logger.warning("capture device unavailable; reopening with backoff", metadata: metadata)
            deliver(.failure(failure))
        } else {
            logger.debug("capture device still unavailable", metadata: metadata)
        }
        wake.wait()
        return !isStopped
    }

    /// Reads until stopped (nil) or until the device is gone (its negative errno).
    private func capture(from device: any PCMDevice, into buffer: UnsafeMutablePointer<Int16>) -> Int32? {
        let frames = settings.periodFrames
        let channels = settings.channels
        let periodNanoseconds = Int64(frames) * 1_000_000_000 / Int64(settings.sampleRate)
        var due = Self.monotonicNanoseconds()
        while !isStopped {
            if settings.pacedToRealTime {
                due += periodNanoseconds
                let wait = due - Self.monotonicNanoseconds()
                if wait > 0 {
                    var request = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
                    var remaining = timespec()
                    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
                }
            }
            // The null PCM behind a file capture (and a driver after some errors) leaves the buffer as it
            // was: a period that was not written must read as silence, not as the previous period again.
            buffer.update(repeating: 0, count: frames * channels)
            counters.update {
                $0.readsIssued += 1
                $0.largestRead = max($0.largestRead, frames)
            }
            let result = device.read(into: buffer, frames: frames)
            if result > 0 {
                let count = min(result, frames)
                let samples = [Int16](unsafeUninitializedCapacity: count) { out, initialized in
                    for i in 0..<count { out[i] = buffer[i * channels] }
                    initialized = count
                }
                // The read returns once its last frame is in: the first was captured one read's duration earlier.
                let duration = Duration.nanoseconds(Int64(count) * 1_000_000_000 / Int64(settings.sampleRate))
                deliver(.success(AudioFrame(samples: samples, sampleRate: settings.sampleRate, capturedAt: clock.now() - duration)))
                continue
            }
            // A blocking read that returns nothing is broken: treated as an I/O error rather than retried at
            // full speed.
            let error = result < 0 ? Int32(clamping: result) : -EIO
            if error == -ENODEV || error == -EBADFD { return error }
            if error == -EPIPE {
                var total = 0
                counters.update {
                    $0.overruns += 1
                    total = $0.overruns
                }
                logger.warning("capture overrun: the consumer or the system fell behind", metadata: ["overruns": "\(total)"])
            }
            let recovered = device.recover(error)
            if recovered < 0 { return recovered }
        }
        return nil
    }

    static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    private func deliver(_ result: Result<AudioFrame, HALError>) {
        let sink = state.withLock { $0.stopped ? nil : $0.sink }
        guard let sink else { return }
        if case .success = result { counters.update { $0.framesDelivered += 1 } }
        sink(result)
    }

    fileprivate func alsaSaid(_ message: String, function: String, error: Int32) {
        var metadata: Logger.Metadata = ["function": "\(function)"]
        if error != 0 { metadata["errno"] = "\(error)" }
        logger.warning("ALSA: \(message)", metadata: metadata)
    }
}

/// ALSA's handler is process-wide: installed once, it routes each message to the session whose thread made
/// the call (and drops messages from anywhere else rather than printing them on stderr).
let alsaMessagesRouted: Void = calsa_install_error_sink { context, function, error, message in
    guard let context, let message else { return }
    let session = Unmanaged<Session>.fromOpaque(context).takeUnretainedValue()
    session.alsaSaid(String(cString: message), function: function.map { String(cString: $0) } ?? "", error: error)
}
