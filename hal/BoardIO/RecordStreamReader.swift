import AlarmCore
import Dispatch
import Glibc
import HAL
import Logging
import PosixIO
import Synchronization

/// Reads fixed-size kernel records (input events, GPIO line events) from a character device on a dedicated
/// thread that blocks in poll(2) on the device and a wake pipe: nothing polls on a timeout. A device that
/// fails or vanishes (ENODEV when unplugged, end of file from a pipe) is closed, reported once in the log, and
/// reopened with backoff on the injected clock; the thread waits for the retry timer in poll(2) as well.
final class RecordStreamReader: Sendable {
    /// What the reader went through, for whoever supervises it (tests wait on these).
    enum Status: Sendable, Equatable {
        case opened
        case openFailed(String)
        case lost(String)
        /// A read's complete records were all handed over.
        case handled(records: Int)
    }

    typealias Opener = @Sendable () throws(Errno) -> FileDescriptor

    static let firstRetry = Duration.milliseconds(500)
    static let lastRetry = Duration.seconds(30)
    static let stopWait = DispatchTimeInterval.seconds(2)

    private struct State {
        var started = false
        var stopped = false
        var retryDue = false
        var retry: (any Cancellable)?
        var thread: pthread_t?
    }

    let name: String
    private let recordSize: Int
    private let clock: any Clock
    private let logger: Logger
    private let open: Opener
    private let records: @Sendable ([[UInt8]]) -> Void
    private let status: @Sendable (Status) -> Void
    private let state = Mutex(State())
    private let wakePipe: WakePipe
    private let exited = DispatchSemaphore(value: 0)

    /// `name`: the device path, for the log. `records`: complete records of one read, on the reader thread.
    init(name: String, recordSize: Int, clock: any Clock, logger: Logger, open: @escaping Opener,
         records: @escaping @Sendable ([[UInt8]]) -> Void,
         status: @escaping @Sendable (Status) -> Void = { _ in }) throws(HALError) {
        self.name = name
        self.recordSize = recordSize
        self.clock = clock
        var logger = logger
        logger[metadataKey: "device"] = "\(name)"
        self.logger = logger
        self.open = open
        self.records = records
        self.status = status
        do {
            wakePipe = try WakePipe()
        } catch {
            throw HALError(.io, "\(name): cannot create the reader's wake pipe: \(error)")
        }
    }

    /// Returns at once: opening happens on the reader thread, so a device that is not there yet (udev still
    /// at work, a loose connector) is retried rather than failing the start. Starting twice does nothing.
    func start() throws(HALError) {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
        guard first else { return }
        // The thread owns a reference until it exits, so the wake pipe outlives every poll on it.
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let reader = Unmanaged<RecordStreamReader>.fromOpaque(raw!).takeRetainedValue()
            reader.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<RecordStreamReader>.fromOpaque(context).release()
            throw HALError(.io, "\(name): cannot start the reader thread: \(Errno(result))")
        }
        pthread_detach(thread)
    }

    /// Ends reading and closes the device before returning (bounded wait). Idempotent; callable from the
    /// record callback.
    func stop() {
        let (retry, thread, wasRunning) = state.withLock { state in
            defer {
                state.stopped = true
                state.retry = nil
            }
            return (state.retry, state.thread, state.started && !state.stopped)
        }
        retry?.cancel()
        guard wasRunning else { return }
        wakePipe.wake()
        if let thread, pthread_equal(thread, pthread_self()) != 0 { return }
        if exited.wait(timeout: .now() + Self.stopWait) == .timedOut {
            logger.warning("reader thread did not end in time")
        }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func run() {
        state.withLock { $0.thread = pthread_self() }
        defer { exited.signal() }
        var backoff = Self.firstRetry
        var reportedDown = false
        var framer = RecordFramer(size: recordSize)
        while !isStopped {
            let device: FileDescriptor
            do {
                device = try open()
            } catch {
                let reason = "\(error)"
                guard scheduleRetry(after: backoff) else { break }
                if reportedDown {
                    logger.debug("device still unavailable", metadata: ["error": "\(reason)", "retry-in": "\(backoff)"])
                } else {
                    logger.warning("device unavailable; reopening with backoff",
                                   metadata: ["error": "\(reason)", "retry-in": "\(backoff)"])
                }
                reportedDown = true
                status(.openFailed(reason))
                guard waitForRetry() else { break }
                backoff = min(backoff * 2, Self.lastRetry)
                continue
            }
            if reportedDown { logger.notice("device available again") }
            reportedDown = false
            backoff = Self.firstRetry
            framer.reset()
            status(.opened)
            let lost = pump(device, framer: &framer)
            try? device.close()
            guard let lost, scheduleRetry(after: backoff) else { break }
            logger.warning("device lost; reopening with backoff", metadata: ["error": "\(lost)", "retry-in": "\(backoff)"])
            reportedDown = true
            status(.lost(lost))
            guard waitForRetry() else { break }
            backoff = min(backoff * 2, Self.lastRetry)
        }
    }

    /// Scheduled before anyone hears of the outage, so a supervisor reacting to it finds the retry pending.
    private func scheduleRetry(after delay: Duration) -> Bool {
        state.withLock { current in
            guard !current.stopped else { return false }
            current.retryDue = false
            current.retry = clock.schedule(after: delay) { [self] in
                state.withLock { $0.retryDue = true }
                wakePipe.wake()
            }
            return true
        }
    }

    /// Blocks in poll(2) on the wake pipe until the retry timer fired or a stop arrived. False once stopped.
    private func waitForRetry() -> Bool {
        while true {
            let (due, stopped) = state.withLock { ($0.retryDue, $0.stopped) }
            if stopped { return false }
            if due { return true }
            _ = try? wakePipe.readEnd.poll(events: Int16(POLLIN), timeoutMilliseconds: -1)
            wakePipe.drain()
        }
    }

    /// Reads until stopped (nil) or until the device is gone (the reason).
    private func pump(_ device: FileDescriptor, framer: inout RecordFramer) -> String? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: recordSize * 64, alignment: 8)
        defer { buffer.deallocate() }
        var watched = [pollfd(fd: device.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakePipe.readEnd.rawValue, events: Int16(POLLIN), revents: 0)]
        while true {
            watched[0].revents = 0
            watched[1].revents = 0
            if Glibc.poll(&watched, 2, -1) < 0 {
                let error = Errno.current
                if error == .interrupted { continue }
                return "poll: \(error)"
            }
            if watched[1].revents != 0 {
                wakePipe.drain()
                if isStopped { return nil }
            }
            let ready = watched[0].revents
            if ready & Int16(POLLNVAL) != 0 { return "the descriptor became invalid" }
            guard ready & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { continue }
            // POLLHUP with data still queued: read drains it first, then reports end of file.
            let count: Int
            do {
                count = try device.read(into: buffer)
            } catch where error == .wouldBlock {
                continue
            } catch {
                return "\(error)"
            }
            if count == 0 { return "end of file (the device went away)" }
            let complete = framer.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            if !complete.isEmpty { records(complete) }
            status(.handled(records: complete.count))
            if isStopped { return nil }
        }
    }
}
