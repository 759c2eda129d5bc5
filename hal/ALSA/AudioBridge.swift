import AlarmCore
import CALSA
import Glibc
import HAL
import Logging
import Synchronization

/// Where the listen-in audio goes: the modem's playback PCM on boards that carry voice over USB audio.
public protocol VoiceOutput: Sendable {
    /// Blocks until the samples are accepted (the device paces the bridge).
    func play(_ samples: [Int16]) throws(HALError)
    func close()
}

/// The modem's USB-audio playback PCM (Quectel `AT+QPCMV=1,2`: 8 kHz, 16-bit mono) through ALSA.
public final class ALSAPlayback: VoiceOutput, @unchecked Sendable {
    // The PCM is used only by the bridge's writer thread, and closed after it has stopped.
    private let device: ALSAPCM
    public init(pcm: String, configText: String? = nil, sampleRate: Int = 8000, periodFrames: Int = 160) throws(HALError) {
        _ = alsaMessagesRouted  // never on stderr
        do {
            device = try ALSAPCM(PCMSettings(pcm: pcm, configText: configText, sampleRate: sampleRate, channels: 1,
                                             periodFrames: periodFrames, playback: true))
        } catch {
            throw HALError(.unavailable, "playback PCM \(pcm): \(error)")
        }
    }

    public func play(_ samples: [Int16]) throws(HALError) {
        var offset = 0
        while offset < samples.count {
            let written = samples.withUnsafeBufferPointer { device.write($0.baseAddress! + offset, frames: samples.count - offset) }
            if written > 0 {
                offset += written
            } else if device.recover(Int32(clamping: written)) < 0 {
                throw HALError(.io, "playback failed: \(String(cString: snd_strerror(Int32(clamping: written))))")
            }
        }
    }

    public func close() {
        device.drain()
        device.close()
    }
}

/// Microphone → modem during a call, with a hard bound on the audio waiting in between (the bound is the latency
/// the bridge may add: 60 ms by default). When the output falls behind, the oldest audio is dropped, never queued
/// without end: for a listen-in, late audio is worth less than current audio.
public final class AudioBridge: Sendable {
    struct State {
        var queue: [[Int16]] = []
        var queued = 0
        var maximumQueued = 0
        var dropped = 0
        var written = 0
        var running = false
        /// A 16 kHz frame of odd length leaves one sample for the next frame's first pair.
        var unpaired: Int16?
    }

    let open: @Sendable () throws(HALError) -> any VoiceOutput
    /// The output's rate (the modem's voice: 8 kHz).
    public let sampleRate: Int
    let boundSamples: Int
    let logger: Logger
    let state = Mutex(State())
    let wake = DispatchSemaphoreBox()

    /// `bound`: the most audio that may wait between capture and output.
    /// `open` is called at every start (each call): the modem's USB-audio device exists only once the modem runs.
    public init(open: @escaping @Sendable () throws(HALError) -> any VoiceOutput, sampleRate: Int = 8000,
                bound: Duration = .milliseconds(60), logger: Logger) {
        self.open = open
        self.sampleRate = sampleRate
        boundSamples = max(1, Int(bound.milliseconds) * sampleRate / 1000)
        self.logger = logger
    }

    public var maximumQueuedSamples: Int { state.withLock { $0.maximumQueued } }
    public var droppedSamples: Int { state.withLock { $0.dropped } }
    public var writtenSamples: Int { state.withLock { $0.written } }

    public func start() {
        let start = state.withLock { s -> Bool in
            guard !s.running else { return false }
            s.running = true
            return true
        }
        guard start else { return }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { argument in
            let bridge = Unmanaged<AudioBridge>.fromOpaque(argument!).takeRetainedValue()
            bridge.writerLoop()
            return nil
        }, box.toOpaque())
        pthread_detach(thread)
    }

    /// A captured frame in, at the microphone's rate. At twice the output's rate (a 16 kHz microphone, the modem's
    /// 8 kHz voice) each pair of samples is averaged into one: a plain low-pass and decimation, enough for speech,
    /// and the centre never hears audio at half speed. Any other rate is dropped with one log line (boards allow
    /// 8 and 16 kHz only).
    public func push(_ frame: AudioFrame) {
        if frame.sampleRate == sampleRate {
            push(frame.samples)
            return
        }
        guard frame.sampleRate == 2 * sampleRate else {
            let first = state.withLock { s -> Bool in
                defer { s.dropped += frame.samples.count }
                return s.dropped == 0
            }
            if first { logger.error("listen-in bridge cannot convert \(frame.sampleRate) Hz to \(sampleRate) Hz; audio dropped") }
            return
        }
        let halved = state.withLock { s -> [Int16] in
            var input = frame.samples
            if let carried = s.unpaired {
                input.insert(carried, at: 0)
                s.unpaired = nil
            }
            if input.count % 2 == 1 { s.unpaired = input.removeLast() }
            return stride(from: 0, to: input.count, by: 2).map { Int16((Int32(input[$0]) + Int32(input[$0 + 1])) / 2) }
        }
        push(halved)
    }

    /// Captured audio in, at the output's rate; never blocks the capture thread.
    public func push(_ samples: [Int16]) {
        state.withLock { s in
            guard s.running else { return }
            s.queue.append(samples)
            s.queued += samples.count
            while s.queued > boundSamples, s.queue.count > 1 {
                let oldest = s.queue.removeFirst()
                s.queued -= oldest.count
                s.dropped += oldest.count
            }
            s.maximumQueued = max(s.maximumQueued, s.queued)
        }
        wake.signal()
    }

    /// Ends the bridge: what is queued is played, then the output is closed. It can be started again (next call).
    public func stop() {
        let wasRunning = state.withLock { s -> Bool in
            defer { s.running = false }
            return s.running
        }
        guard wasRunning else { return }
        wake.signal()
        wake.waitStopped()
        wake.reset()
    }

    func writerLoop() {
        let output: any VoiceOutput
        do {
            output = try open()
        } catch {
            logger.error("listen-in playback device did not open; the call goes on without the bridge", metadata: ["error": "\(error)"])
            state.withLock { s in
                s.running = false
                s.queue.removeAll()
                s.queued = 0
            }
            wake.markStopped()
            return
        }
        while true {
            let next = state.withLock { s -> [Int16]?? in
                if s.queue.isEmpty { return s.running ? .some(nil) : nil }
                let first = s.queue.removeFirst()
                s.queued -= first.count
                return .some(first)
            }
            guard let item = next else { break }
            guard let samples = item else {
                wake.wait()
                continue
            }
            do {
                try output.play(samples)
                state.withLock { $0.written += samples.count }
            } catch {
                logger.warning("listen-in playback failed", metadata: ["error": "\(error)"])
            }
        }
        output.close()
        wake.markStopped()
    }
}

/// A counting semaphore plus a "writer has stopped" signal, without Dispatch's Foundation-free but Sendable-unfriendly types.
final class DispatchSemaphoreBox: Sendable {
    let pending = Mutex(0)
    let stopped = Mutex(false)
    let condition = Condition()

    func signal() {
        pending.withLock { $0 += 1 }
        condition.broadcast()
    }

    func wait() {
        condition.wait { pending.withLock { value in
            guard value > 0 else { return false }
            value -= 1
            return true
        } }
    }

    func reset() {
        stopped.withLock { $0 = false }
        pending.withLock { $0 = 0 }
    }

    func markStopped() {
        stopped.withLock { $0 = true }
        condition.broadcast()
    }

    func waitStopped() { condition.wait { stopped.withLock { $0 } } }
}

/// pthread condition variable around a predicate (the predicate's own state is under its own lock).
final class Condition: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }
    func broadcast() {
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
    }
    func wait(until predicate: () -> Bool) {
        pthread_mutex_lock(&mutex)
        while !predicate() { pthread_cond_wait(&cond, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
}
