@testable import ALSA
import AlarmCore
import Dispatch
import Glibc
import HAL
import Logging
import SimBackends
import Synchronization
import Testing

/// The ALSA capture through the real ALSA API, from a PCM that reads a raw file (this machine has no sound
/// card). The PCM is described by configuration text handed to the capture: nothing under /etc, no environment.
/// Waits are for events, with generous deadlines; nothing sleeps.
@Suite(.serialized) struct ALSACaptureTests {
    static let rate = 8000
    static let period = 160

    @Test func capturedSamplesMatchTheFileReadOnePeriodAtATime() throws {
        let file = try RawFile(channels: [ramp])
        let events = Events(keepSamples: Self.rate)
        let capture = ALSACapture(pcm: "fakemic_plug", configText: file.config, sampleRate: Self.rate, channels: 1,
                                  periodFrames: Self.period, clock: ManualClock(), logger: Log().logger)
        try capture.start { events.record($0) }
        #expect(events.wait { $0.samples.count >= Self.rate })
        capture.stop()

        let got = events.snapshot
        #expect(got.failures.isEmpty)
        #expect(got.samples == Array(file.samples[0][..<Self.rate]))
        #expect(got.frameSizes.allSatisfy { $0 == Self.period })
        #expect(got.rates == [Self.rate])
        #expect(capture.largestRead <= Self.period)
        #expect(capture.largestRead > 0)
        #expect(capture.readsIssued >= Self.rate / Self.period)
        #expect(capture.framesDelivered >= Self.rate / Self.period)
        #expect(capture.overruns == 0)
    }

    @Test func aStereoDeviceDeliversChannelZero() throws {
        let file = try RawFile(channels: [ramp, { -ramp($0) / 2 }])
        let events = Events(keepSamples: 2000)
        let capture = ALSACapture(pcm: "fakemic_plug", configText: file.config, sampleRate: Self.rate, channels: 2,
                                  periodFrames: Self.period, clock: ManualClock(), logger: Log().logger)
        try capture.start { events.record($0) }
        #expect(events.wait { $0.samples.count >= 2000 })
        capture.stop()
        #expect(events.snapshot.samples == Array(file.samples[0][..<2000]))
    }

    @Test func anOverrunIsRecoveredAndCountedAndCaptureGoesOn() throws {
        let file = try RawFile(channels: [ramp])
        let events = Events(keepSamples: 0)
        let wrapper = FaultyPCM.Plan(failReads: [2: -EPIPE])
        let settings = PCMSettings(pcm: "fakemic_plug", configText: file.config, sampleRate: Self.rate, channels: 1,
                                   periodFrames: Self.period)
        let capture = ALSACapture(settings, clock: ManualClock(), logger: Log().logger, opener: wrapper.opener)
        try capture.start { events.record($0) }
        #expect(events.wait { $0.frames >= 10 })
        capture.stop()

        #expect(capture.overruns == 1)
        // Recovered by the real snd_pcm_recover, which re-prepared the PCM.
        #expect(wrapper.recoveries == [Recovery(error: -EPIPE, result: 0)])
        #expect(wrapper.opens == 1)
        #expect(events.snapshot.failures.isEmpty)
    }

    @Test func aVanishedDeviceIsReportedOnceAndReopenedOnTheClock() throws {
        let file = try RawFile(channels: [ramp])
        let events = Events(keepSamples: Self.period * 3)
        let clock = ManualClock()
        let wrapper = FaultyPCM.Plan(failReads: [3: -ENODEV])
        let settings = PCMSettings(pcm: "fakemic_plug", configText: file.config, sampleRate: Self.rate, channels: 1,
                                   periodFrames: Self.period)
        let capture = ALSACapture(settings, clock: clock, logger: Log().logger, opener: wrapper.opener)
        try capture.start { events.record($0) }
        defer { capture.stop() }
        #expect(events.wait { $0.failures.count == 1 })
        #expect(events.snapshot.failures.first?.kind == .unavailable)
        #expect(events.snapshot.frames == 2)
        #expect(clock.pendingCount == 1)

        clock.advance(by: .milliseconds(500))
        #expect(events.wait { $0.frames >= 10 })
        #expect(wrapper.opens == 2)
        #expect(events.snapshot.failures.count == 1)
        // Two periods from the first device, then the reopened one starts from the beginning of the file again.
        let start = file.samples[0]
        #expect(events.snapshot.samples == Array(start[..<(Self.period * 2)]) + Array(start[..<Self.period]))
    }

    @Test func aMissingDeviceFailsOnceAndIsRetriedWithBackoffOnTheClock() throws {
        let file = try RawFile(channels: [ramp])
        let events = Events(keepSamples: 0)
        let clock = ManualClock()
        let log = Log()
        let capture = ALSACapture(pcm: "nosuchmic", configText: file.config, sampleRate: Self.rate, channels: 1,
                                  periodFrames: Self.period, clock: clock, logger: log.logger)
        try capture.start { events.record($0) }
        #expect(events.wait { $0.failures.count == 1 })
        #expect(events.snapshot.failures.first?.kind == .unavailable)
        #expect(capture.openAttempts == 1)
        #expect(clock.pendingCount == 1)

        // 0.5 s: the second attempt, which fails quietly (no second failure) and waits twice as long.
        clock.advance(by: .milliseconds(500))
        #expect(log.wait(count: 1) { $0.contains("still unavailable") })
        #expect(capture.openAttempts == 2)
        #expect(clock.pendingCount == 1)
        clock.advance(by: .milliseconds(500))
        #expect(capture.openAttempts == 2)
        clock.advance(by: .milliseconds(500))
        #expect(log.wait(count: 2) { $0.contains("still unavailable") })
        #expect(capture.openAttempts == 3)
        #expect(events.snapshot.failures.count == 1)
        #expect(events.snapshot.frames == 0)

        capture.stop()
        #expect(clock.pendingCount == 0)
        capture.stop()
    }

    @Test func alsaErrorTextGoesToTheLoggerNotStderr() throws {
        let file = try RawFile(channels: [ramp])
        let events = Events(keepSamples: 0)
        let log = Log()
        let stderr = try StderrCapture()
        let capture = ALSACapture(pcm: "nosuchmic", configText: file.config, sampleRate: Self.rate, channels: 1,
                                  periodFrames: Self.period, clock: ManualClock(), logger: log.logger)
        try capture.start { events.record($0) }
        #expect(events.wait { $0.failures.count == 1 })
        capture.stop()
        let written = stderr.finish()

        #expect(log.lines.contains { $0.level == .warning && $0.text.contains("Unknown PCM nosuchmic") })
        #expect(!written.contains("nosuchmic"), "ALSA wrote to stderr: \(written)")
    }

    @Test func unsupportedSettingsAreRefusedAtStart() {
        let capture = ALSACapture(pcm: "fakemic_plug", sampleRate: 44100, channels: 1, periodFrames: Self.period,
                                  clock: ManualClock(), logger: Log().logger)
        #expect(throws: HALError.self) { try capture.start { _ in } }
        capture.stop()
    }
}

/// A ramp that wraps, different in every sample of the first seconds: a dropped, repeated or shifted period
/// shows up as a mismatch.
private func ramp(_ i: Int) -> Int16 { Int16(truncatingIfNeeded: i * 7 - 20000) }

/// Three seconds of raw S16_LE at 8 kHz, interleaved when there are several channels, and the ALSA
/// configuration that captures from it.
private final class RawFile {
    let directory: String
    let path: String
    let samples: [[Int16]]

    init(channels: [(Int) -> Int16], seconds: Int = 3) throws {
        var template = Array("/tmp/alsa-capture-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp: errno \(errno)") }
        directory = String(cString: made)
        path = directory + "/input.raw"
        let count = ALSACaptureTests.rate * seconds
        samples = channels.map { wave in (0..<count).map(wave) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * channels.count * 2)
        for i in 0..<count {
            for channel in samples {
                let value = UInt16(bitPattern: channel[i])
                bytes.append(UInt8(value & 0xff))
                bytes.append(UInt8(value >> 8))
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw TestFailure("short write to \(path)") }
    }

    deinit {
        unlink(path)
        rmdir(directory)
    }

    /// The slave is an inline null PCM: this text replaces the system configuration, which is where the
    /// usual "null" PCM is defined.
    var config: String {
        """
        pcm.fakemic {
            type file
            slave.pcm { type null }
            file "/dev/null"
            infile "\(path)"
            format "raw"
        }
        pcm.fakemic_plug {
            type plug
            slave.pcm "fakemic"
        }
        """
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct Recovery: Equatable {
    var error: Int32
    var result: Int32
}

/// The thin wrapper around the real PCM, where tests inject what a file-backed PCM never produces.
final class FaultyPCM: PCMDevice {
    final class Plan: Sendable {
        private struct State {
            var opens = 0
            var recoveries: [Recovery] = []
        }

        /// Read number (from 1, per opened device) → the negative errno returned instead of reading; only the
        /// first opened device fails.
        let failReads: [Int: Int32]
        private let state = Mutex(State())

        init(failReads: [Int: Int32]) { self.failReads = failReads }

        var opens: Int { state.withLock { $0.opens } }
        var recoveries: [Recovery] { state.withLock { $0.recoveries } }

        var opener: PCMOpener {
            { [self] settings throws(PCMOpenError) in
                let inner = try ALSAPCM.opener(settings)
                let first = state.withLock { state -> Bool in
                    state.opens += 1
                    return state.opens == 1
                }
                return FaultyPCM(inner: inner, plan: self, failReads: first ? failReads : [:])
            }
        }

        fileprivate func recovered(_ recovery: Recovery) { state.withLock { $0.recoveries.append(recovery) } }
    }

    private let inner: any PCMDevice
    private let plan: Plan
    private let failReads: [Int: Int32]
    private var reads = 0

    init(inner: any PCMDevice, plan: Plan, failReads: [Int: Int32]) {
        self.inner = inner
        self.plan = plan
        self.failReads = failReads
    }

    func read(into buffer: UnsafeMutablePointer<Int16>, frames: Int) -> Int {
        reads += 1
        if let error = failReads[reads] { return Int(error) }
        return inner.read(into: buffer, frames: frames)
    }

    func recover(_ error: Int32) -> Int32 {
        let result = inner.recover(error)
        plan.recovered(Recovery(error: error, result: result))
        return result
    }

    func close() { inner.close() }
}

/// What the capture delivered. File capture runs faster than real time: only the first `keepSamples`
/// samples are kept, the rest only counted.
final class Events: Sendable {
    struct Snapshot {
        var samples: [Int16] = []
        var frames = 0
        var frameSizes: Set<Int> = []
        var rates: Set<Int> = []
        var failures: [HALError] = []
    }

    private let keepSamples: Int
    private let state = Mutex(Snapshot())
    private let changed = DispatchSemaphore(value: 0)

    init(keepSamples: Int) { self.keepSamples = keepSamples }

    func record(_ result: Result<AudioFrame, HALError>) {
        state.withLock { state in
            switch result {
            case .success(let frame):
                state.frames += 1
                state.frameSizes.insert(frame.samples.count)
                state.rates.insert(frame.sampleRate)
                let room = keepSamples - state.samples.count
                if room > 0 { state.samples += frame.samples.prefix(room) }
            case .failure(let error):
                state.failures.append(error)
            }
        }
        changed.signal()
    }

    var snapshot: Snapshot { state.withLock { $0 } }

    func wait(seconds: Int = 20, until done: (Snapshot) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + .seconds(seconds)
        while !done(snapshot) {
            if changed.wait(timeout: deadline) == .timedOut { return done(snapshot) }
        }
        return true
    }
}

/// A logger whose lines the test can read and wait for.
final class Log: Sendable {
    struct Line {
        var level: Logger.Level
        var text: String
    }

    private let stored = Mutex<[Line]>([])
    private let changed = DispatchSemaphore(value: 0)

    var logger: Logger { Logger(label: "alsa-test") { _ in Handler(log: self) } }
    var lines: [Line] { stored.withLock { $0 } }

    fileprivate func append(_ line: Line) {
        stored.withLock { $0.append(line) }
        changed.signal()
    }

    /// Until at least `count` lines match.
    func wait(count: Int, seconds: Int = 20, matching: (String) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + .seconds(seconds)
        func enough() -> Bool { lines.filter { matching($0.text) }.count >= count }
        while !enough() {
            if changed.wait(timeout: deadline) == .timedOut { return enough() }
        }
        return true
    }

    private struct Handler: LogHandler {
        let log: Log
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let metadata = self.metadata.merging(event.metadata ?? [:]) { $1 }
            log.append(Line(level: event.level, text: "\(event.message) \(metadata)"))
        }
    }
}

/// Redirects this process's stderr to a file until `finish()`, which restores it, replays what was written
/// (so nothing another test printed meanwhile is lost) and returns it.
final class StderrCapture {
    private let saved: Int32
    private let path: String
    private var finished = false

    init() throws {
        var template = Array("/tmp/alsa-stderr-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw TestFailure("mkstemp: errno \(errno)") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        fflush(nil)
        saved = dup(2)
        dup2(fd, 2)
        close(fd)
    }

    func finish() -> String {
        guard !finished else { return "" }
        finished = true
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            bytes += chunk[..<n]
        }
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        return String(decoding: bytes, as: UTF8.self)
    }

    deinit { _ = finish() }
}
