import Glibc

/// An owned-by-convention file descriptor number.
///
/// A plain value (not a class with deinit) so it can be stored anywhere and
/// crosses threads freely; whoever opened it is responsible for `close()`.
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// O_CLOEXEC is always added: without it every helper process we spawn
    /// would inherit (and keep open) our sockets and files.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(Errno) -> FileDescriptor {
        let fd = try syscallRetrying { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// Returns the number of bytes read; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try syscallRetrying { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// At most `count` bytes from one read(2); empty means end of file.
    public func read(upTo count: Int) throws(Errno) -> [UInt8] {
        var failure: Errno?
        let bytes = [UInt8](unsafeUninitializedCapacity: max(count, 0)) { buffer, initialized in
            switch Result(catching: { () throws(Errno) -> Int in try read(into: UnsafeMutableRawBufferPointer(buffer)) }) {
            case .success(let count):
                initialized = count
            case .failure(let error):
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// One write(2) call; may write fewer bytes than given.
    public func write(_ bytes: some Collection<UInt8>) throws(Errno) -> Int {
        try withContiguousBytes(bytes) { (buffer) throws(Errno) -> Int in
            try write(buffer)
        }
    }

    /// Writes everything, waiting for POLLOUT when a non-blocking descriptor
    /// is full. A negative timeout waits for as long as it takes; otherwise
    /// `.timedOut` is thrown when the whole write has not finished in time.
    ///
    /// Use `sendAll` for sockets: write(2) to a socket or pipe whose reader
    /// has gone raises SIGPIPE, which only send(2) can suppress per call.
    public func writeAll(_ bytes: some Collection<UInt8>, timeoutMilliseconds: Int32 = -1) throws(Errno) {
        try withContiguousBytes(bytes) { (buffer) throws(Errno) in
            try transferAll(buffer, timeoutMilliseconds: timeoutMilliseconds) { (chunk) throws(Errno) -> Int in
                try write(chunk)
            }
        }
    }

    /// close(2) is deliberately not retried on EINTR: Linux has already
    /// released the number by then, and a retry could close a descriptor
    /// another thread just received.
    public func close() throws(Errno) {
        let result = Glibc.close(rawValue)
        if result == -1 {
            let error = Errno.current
            if error != .interrupted {
                throw error
            }
        }
    }

    public func setNonBlocking(_ on: Bool = true) throws(Errno) {
        let flags = try syscallRetrying { fcntl(rawValue, F_GETFL) }
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if wanted != flags {
            _ = try syscallRetrying { fcntl(rawValue, F_SETFL, wanted) }
        }
    }

    /// fsync(2): the data and metadata reached stable storage.
    public func sync() throws(Errno) {
        _ = try syscallRetrying { fsync(rawValue) }
    }

    /// Returns the ready events (revents); 0 means the timeout elapsed. A
    /// negative timeout waits forever. EINTR restarts with the time left, not
    /// the full timeout.
    public func poll(events: Int16, timeoutMilliseconds: Int32) throws(Errno) -> Int16 {
        let deadline = Deadline(timeoutMilliseconds: Int(timeoutMilliseconds))
        var entry = pollfd(fd: rawValue, events: events, revents: 0)
        while true {
            let result = Glibc.poll(&entry, 1, deadline.remainingPollMilliseconds)
            if result >= 0 {
                return result == 0 ? 0 : entry.revents
            }
            let error = Errno.current
            if error != .interrupted {
                throw error
            }
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try syscallRetrying { Glibc.write(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Shared loop for writeAll/sendAll: partial writes are normal on pipes
    /// and sockets, and EAGAIN on a non-blocking descriptor means "wait until
    /// the peer drains", not failure.
    func transferAll(
        _ buffer: UnsafeRawBufferPointer,
        timeoutMilliseconds: Int32,
        _ once: (UnsafeRawBufferPointer) throws(Errno) -> Int
    ) throws(Errno) {
        let deadline = Deadline(timeoutMilliseconds: Int(timeoutMilliseconds))
        var offset = 0
        while offset < buffer.count {
            do throws(Errno) {
                let written = try once(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
                if written <= 0 {
                    // Only a broken driver returns 0 for a non-empty write;
                    // looping on it would spin forever.
                    throw Errno(EIO)
                }
                offset += written
            } catch where error == .wouldBlock {
                let ready = try poll(events: Int16(POLLOUT), timeoutMilliseconds: deadline.remainingPollMilliseconds)
                if ready == 0 {
                    throw .timedOut
                }
                if ready & Int16(POLLNVAL) != 0 {
                    throw .badFileDescriptor
                }
                // POLLERR/POLLHUP: the next write reports the precise error.
            }
        }
    }
}

/// Gives a raw view of any byte collection, copying only when the collection
/// is not contiguous (e.g. a lazy map).
func withContiguousBytes<C: Collection<UInt8>, R>(
    _ bytes: C,
    _ body: (UnsafeRawBufferPointer) throws(Errno) -> R
) throws(Errno) -> R {
    // The stdlib's withUnsafe… helpers are `rethrows`, which erases the error
    // type, so the typed error is carried out in a Result.
    let direct = bytes.withContiguousStorageIfAvailable { elements in
        Result { () throws(Errno) -> R in try body(UnsafeRawBufferPointer(elements)) }
    }
    if let direct {
        return try direct.get()
    }
    let copied = Array(bytes).withUnsafeBytes { raw in
        Result { () throws(Errno) -> R in try body(raw) }
    }
    return try copied.get()
}
