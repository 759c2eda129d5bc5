import Dispatch
import Glibc
import Synchronization

/// A connected stream socket driven by a dispatch read source: bytes are
/// pushed to `onBytes` on `queue` as they arrive, without a thread per
/// connection and without polling.
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
    /// peer that stops reading (negative = forever).
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
        do throws(Errno) {
            try descriptor.setNonBlocking()
            setupError = nil
        } catch {
            setupError = error
        }
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
    /// descriptor number.
    public func send(_ bytes: [UInt8]) throws(Errno) {
        try sendGate.withLock { (closed) throws(Errno) in
            if closed {
                throw .badFileDescriptor
            }
            try descriptor.sendAll(bytes, timeoutMilliseconds: sendTimeoutMilliseconds)
        }
    }

    /// Idempotent. `onClose(nil)` follows unless the connection had already
    /// ended for another reason.
    public func close() {
        finish(nil)
    }

    private func readAvailable() {
        withUnsafeTemporaryAllocation(byteCount: Self.chunkSize, alignment: 1) { buffer in
            for _ in 0..<Self.maxChunksPerEvent {
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
                if count < Self.chunkSize {
                    // A short read means the socket buffer is drained; the
                    // extra read(2) that would return EAGAIN is skipped.
                    return
                }
            }
        }
    }

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
            descriptor.shutdownBoth()
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
