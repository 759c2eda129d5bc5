import Glibc

// Socket plumbing shared by TCP and UnixSocket.

extension FileDescriptor {
    /// send(2) with MSG_NOSIGNAL: writing to a socket whose peer has gone
    /// would otherwise raise SIGPIPE and kill the daemon, and ignoring SIGPIPE
    /// process-wide is not something a library may decide. A vanished peer
    /// shows up as `.brokenPipe` instead.
    public func send(_ bytes: some Collection<UInt8>) throws(Errno) -> Int {
        try withContiguousBytes(bytes) { (buffer) throws(Errno) -> Int in
            try send(buffer)
        }
    }

    /// Like `writeAll`, but with send(2) and MSG_NOSIGNAL; use this for every
    /// socket.
    public func sendAll(_ bytes: some Collection<UInt8>, timeoutMilliseconds: Int32 = -1) throws(Errno) {
        try withContiguousBytes(bytes) { (buffer) throws(Errno) in
            try transferAll(buffer, timeoutMilliseconds: timeoutMilliseconds) { (chunk) throws(Errno) -> Int in
                try send(chunk)
            }
        }
    }

    func send(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try syscallRetrying { Glibc.send(rawValue, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// shutdown(2) wakes any thread blocked in poll/recv on this socket, which
    /// close(2) alone does not do on Linux.
    func shutdownBoth() {
        // ENOTCONN (peer already gone) is the only expected failure and is
        // exactly the state we want.
        _ = Glibc.shutdown(rawValue, Int32(SHUT_RDWR))
    }

    func setSocketOption(level: Int32, _ name: Int32, _ value: Int32) throws(Errno) {
        var value = value
        _ = try syscallOnce {
            setsockopt(rawValue, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// The pending error of a non-blocking connect, 0 when it succeeded.
    func pendingSocketError() throws(Errno) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try syscallOnce { getsockopt(rawValue, SOL_SOCKET, SO_ERROR, &value, &length) }
        return value
    }

    /// For cleanup paths: either an earlier error matters more than a close
    /// failure, or (read-only descriptors) a close failure cannot lose data.
    func closeIgnoringErrors() {
        _ = try? close()
    }
}

enum Socket {
    /// SOCK_CLOEXEC is set atomically at creation, so a concurrent
    /// posix_spawn on another thread can never inherit the socket.
    static func make(family: Int32, type: Int32, protocol: Int32 = 0, nonBlocking: Bool = false) throws(Errno) -> FileDescriptor {
        var flags = type | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking {
            flags |= Int32(SOCK_NONBLOCK.rawValue)
        }
        let fd = try syscallOnce { socket(family, flags, `protocol`) }
        return FileDescriptor(rawValue: fd)
    }

    static let stream = Int32(SOCK_STREAM.rawValue)
    static let datagram = Int32(SOCK_DGRAM.rawValue)

    /// Connects and waits for completion within `deadline`, for blocking and
    /// non-blocking sockets alike. An interrupted connect(2) keeps going in
    /// the kernel and must not be re-issued (that yields EALREADY), so EINTR
    /// is handled like EINPROGRESS.
    static func connect(
        _ fd: FileDescriptor,
        to address: UnsafePointer<sockaddr>,
        length: socklen_t,
        deadline: Deadline
    ) throws(Errno) {
        if Glibc.connect(fd.rawValue, address, length) == 0 {
            return
        }
        let error = Errno.current
        guard error == .inProgress || error == .interrupted || error == Errno(EALREADY) else {
            throw error
        }
        while true {
            let ready = try fd.poll(events: Int16(POLLOUT), timeoutMilliseconds: deadline.remainingPollMilliseconds)
            if ready == 0 {
                throw .timedOut
            }
            let pending = try fd.pendingSocketError()
            if pending != 0 {
                throw Errno(pending)
            }
            if ready & Int16(POLLOUT) != 0 {
                return
            }
        }
    }

    /// accept4(2) is not exported by the Glibc module (it needs _GNU_SOURCE),
    /// so it is looked up at run time; without it the descriptor is marked
    /// close-on-exec right after accept, with a small window in which a
    /// concurrent spawn could inherit it.
    static func accept(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor {
        while true {
            let fd: Int32
            if let accept4 = accept4Function {
                fd = accept4(listener.rawValue, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            } else {
                fd = Glibc.accept(listener.rawValue, nil, nil)
            }
            if fd >= 0 {
                let accepted = FileDescriptor(rawValue: fd)
                if accept4Function == nil {
                    do throws(Errno) {
                        _ = try syscallRetrying { fcntl(fd, F_SETFD, FD_CLOEXEC) }
                    } catch {
                        accepted.closeIgnoringErrors()
                        throw error
                    }
                }
                return accepted
            }
            let error = Errno.current
            // ECONNABORTED: a client gave up while queued; the listener is
            // fine and the next connection may already be waiting.
            if error != .interrupted && error != Errno(ECONNABORTED) {
                throw error
            }
        }
    }

    private typealias Accept4 = @convention(c) (
        Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32
    ) -> Int32

    private static let accept4Function: Accept4? = {
        guard let symbol = dlsym(nil, "accept4") else { return nil }
        return unsafeBitCast(symbol, to: Accept4.self)
    }()
}
