import Dispatch
import Glibc
import Synchronization

/// A connected stream socket, or any other non-blocking byte stream (serial
/// port, pty controller), driven by a dispatch read source: bytes are pushed
/// to `onBytes` on `queue` as they arrive, without a thread per connection
/// and without polling.
///
/// Sockets are written with send(MSG_NOSIGNAL); everything else with
/// write(2), since send(2) fails with ENOTSOCK there. write(2) never raises
/// SIGPIPE on a terminal, but it does on a pipe or FIFO whose reader has
/// gone, so pipes are not a supported descriptor here.
///
/// A terminal whose device vanished (USB modem re-enumerating) or whose pty
/// peer closed fails reads with EIO while poll keeps reporting POLLHUP; that
/// ends the connection with `onClose(EIO)` and cancels the source, so the
/// hang-up cannot turn into a loop of wake-ups.
///
/// Lifecycle: `init` → `start()` → any number of `send` → the peer closes,
/// an error occurs, or `close()` is called → `onClose` runs exactly once on
/// `queue`, after the descriptor has been closed. The connection keeps itself
/// alive until then, so dropping the last reference does not stop it; call
/// `close()` for that. A read already in progress when `close()` is called
/// from another thread may still deliver its bytes before `onClose`.
public final class StreamConnection: Sendable {
    private struct State {
        /// Owned here so the source (not Sendable) is only touched under the
        /// lock; cleared in the cancel handler, which breaks the
        /// self → source → handler → self cycle.
        var source: (any DispatchSourceRead)?
        var started = false
        var finishing = false
        var reason: Errno?
    }

    private let descriptor: FileDescriptor
    private let onBytes: @Sendable ([UInt8]) -> Void
    private let onClose: @Sendable (Errno?) -> Void
    private let sendTimeoutMilliseconds: Int32
    private let state: Mutex<State>
    /// Serialises senders and guards the descriptor against being closed (and
    /// its number reused) in the middle of a send: `true` once closed.
    private let sendGate = Mutex(false)
    /// Decided once at `init` by fstat(2): which syscall `send` uses, and
    /// whether shutdown(2) is available to wake a blocked sender.
    private let isSocket: Bool
    /// Set by `finish`. A sender waiting for a terminal to drain (CTS held
    /// low by the modem) checks it between bounded polls, because there is
    /// no shutdown(2) for terminals to wake it.
    private let ending = Atomic(false)
    /// A failure to switch the socket to non-blocking mode, reported through
    /// `onClose` at `start()` because `init` cannot throw.
    private let setupError: Errno?

    /// Reads are capped per wake-up so one flooding peer cannot monopolise a
    /// shared queue; the level-triggered source fires again for the rest.
    private static let chunkSize = 4096
    private static let maxChunksPerEvent = 16

    /// Takes ownership of `descriptor` and switches it to non-blocking mode:
    /// the read loop depends on EAGAIN, and a blocking read would stall the
    /// queue. `sendTimeoutMilliseconds` bounds how long `send` waits for a
    /// peer that stops reading, or for a modem that holds CTS low
    /// (negative = forever).
    public init(
        descriptor: FileDescriptor,
        queue: DispatchQueue,
        sendTimeoutMilliseconds: Int32 = -1,
        onBytes: @escaping @Sendable ([UInt8]) -> Void,
        onClose: @escaping @Sendable (Errno?) -> Void
    ) {
        self.descriptor = descriptor
        self.onBytes = onBytes
        self.onClose = onClose
        self.sendTimeoutMilliseconds = sendTimeoutMilliseconds
        // On failure (most likely EBADF) the socket path, the historical
        // default, is kept; `start()` reports the error anyway.
        var isSocket = true
        do throws(Errno) {
            isSocket = try descriptor.isSocket()
            try descriptor.setNonBlocking()
            setupError = nil
        } catch {
            setupError = error
        }
        self.isSocket = isSocket
        state = Mutex(State(source: DispatchSource.makeReadSource(fileDescriptor: descriptor.rawValue, queue: queue)))
        state.withLock { state in
            state.source?.setEventHandler { [self] in
                readAvailable()
            }
            state.source?.setCancelHandler { [self] in
                didCancel()
            }
        }
    }

    /// Begins delivering bytes. Calling it again, or after `close()`, has no
    /// effect.
    public func start() {
        state.withLock { state in
            guard !state.started else { return }
            state.started = true
            state.source?.resume()
        }
        if let setupError {
            finish(setupError)
        }
    }

    /// Sends everything or throws; concurrent callers are serialised so
    /// their frames never interleave. After the connection has closed this
    /// throws `.badFileDescriptor` without touching the (possibly reused)
    /// descriptor number. On a terminal, returning means the bytes are in the
    /// kernel's output queue, not yet on the wire.
    public func send(_ bytes: [UInt8]) throws(Errno) {
        try sendGate.withLock { (closed) throws(Errno) in
            if closed {
                throw .badFileDescriptor
            }
            if isSocket {
                try descriptor.sendAll(bytes, timeoutMilliseconds: sendTimeoutMilliseconds)
            } else {
                try writeAllUntilEnding(bytes)
            }
        }
    }

    /// Idempotent. `onClose(nil)` follows unless the connection had already
    /// ended for another reason.
    public func close() {
        finish(nil)
    }

    /// Reads until EAGAIN rather than stopping at a short read: on Linux,
    /// libdispatch turns EPOLLHUP into one last event and then drops the
    /// descriptor from epoll (so a hang-up cannot spin), which means the
    /// handler run for a hang-up is the last one. A peer that writes and
    /// hangs up (pty device closed, AF_UNIX peer gone) delivers data and
    /// POLLHUP in that one event; stopping after the data would leave the
    /// connection open forever, never reaching the EOF or EIO behind it.
    private func readAvailable() {
        withUnsafeTemporaryAllocation(byteCount: Self.chunkSize, alignment: 1) { buffer in
            var chunks = 0
            while true {
                let count: Int
                do throws(Errno) {
                    count = try descriptor.read(into: buffer)
                } catch {
                    if error != .wouldBlock {
                        finish(error)
                    }
                    return
                }
                if count == 0 {
                    finish(nil)
                    return
                }
                onBytes(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count])))
                chunks += 1
                // The cap only applies while the source will fire again; a
                // hung-up descriptor holds a finite amount of data, so it is
                // drained to the end here.
                if chunks >= Self.maxChunksPerEvent && !descriptor.isHungUp {
                    return
                }
            }
        }
    }

    /// `FileDescriptor.writeAll`, except that the wait for POLLOUT is cut
    /// into short polls so that `finish` on another thread can stop it; the
    /// sender then fails with `.brokenPipe`, as a socket sender does after
    /// shutdown(2).
    private func writeAllUntilEnding(_ bytes: [UInt8]) throws(Errno) {
        let deadline = Deadline(timeoutMilliseconds: Int(sendTimeoutMilliseconds))
        try withContiguousBytes(bytes) { (buffer) throws(Errno) in
            var offset = 0
            while offset < buffer.count {
                if ending.load(ordering: .acquiring) {
                    throw .brokenPipe
                }
                do throws(Errno) {
                    let written = try descriptor.write(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
                    if written <= 0 {
                        // As in transferAll: looping on 0 would spin.
                        throw Errno(EIO)
                    }
                    offset += written
                } catch where error == .wouldBlock {
                    let remaining = deadline.remainingPollMilliseconds
                    let slice = remaining < 0 ? Self.endingCheckMilliseconds : min(remaining, Self.endingCheckMilliseconds)
                    let ready = try descriptor.poll(events: Int16(POLLOUT), timeoutMilliseconds: slice)
                    if ready == 0 && deadline.hasExpired {
                        throw .timedOut
                    }
                    if ready & Int16(POLLNVAL) != 0 {
                        throw .badFileDescriptor
                    }
                    // POLLERR/POLLHUP: the next write reports the precise
                    // error (EIO for a hung-up terminal).
                }
            }
        }
    }

    /// How late a blocked terminal sender notices `close()`; only matters
    /// while output is stalled, so the extra wake-ups cost nothing otherwise.
    private static let endingCheckMilliseconds: Int32 = 100

    /// The single path into shutdown: records why, wakes any blocked sender,
    /// and cancels the source, whose cancel handler does the rest on `queue`.
    private func finish(_ reason: Errno?) {
        state.withLock { state in
            guard !state.finishing else { return }
            state.finishing = true
            state.reason = reason
            // The descriptor is still open here: only the cancel handler,
            // which cannot have run yet, closes it. shutdown(2) makes a
            // sender stuck in poll(POLLOUT) fail with EPIPE instead of
            // holding `sendGate` forever and blocking the cancel handler.
            ending.store(true, ordering: .releasing)
            if isSocket {
                descriptor.shutdownBoth()
            }
            state.source?.cancel()
            if !state.started {
                // A dispatch source must be resumed before its cancel handler
                // can run (and before release, or libdispatch traps).
                state.started = true
                state.source?.resume()
            }
        }
    }

    private func didCancel() {
        sendGate.withLock { closed in
            closed = true
            if !isSocket && descriptor.isTerminal {
                // close(2) on a serial port waits up to `closing_wait` (30 s
                // by default) for queued output to drain, which never
                // happens while the modem holds CTS low, and would block
                // `queue` that long. The stream is over; the bytes are moot.
                _ = tcflush(descriptor.rawValue, TCOFLUSH)
            }
            // Nothing useful can be done if close(2) fails: the descriptor
            // is gone either way on Linux.
            descriptor.closeIgnoringErrors()
        }
        let reason = state.withLock { state in
            state.source = nil
            return state.reason
        }
        onClose(reason)
    }
}
