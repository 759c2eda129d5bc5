import Glibc

/// TCP over IPv4 and IPv6, whichever getaddrinfo offers for the host.
public enum TCP {
    /// Tries each resolved address in turn until one connects; the timeout
    /// covers all attempts together. The returned descriptor is non-blocking,
    /// close-on-exec and has TCP_NODELAY set (alarm frames are small and
    /// latency-critical; Nagle would hold them back).
    ///
    /// Name resolution itself is a blocking getaddrinfo(3) call that the
    /// timeout cannot bound; pass numeric addresses where that matters.
    ///
    /// `interface` pins the connection to one device (SO_BINDTODEVICE): the
    /// routing table is then consulted only for routes through it, so a
    /// second path (Wi-Fi or Ethernet on a development board) can never
    /// carry traffic meant to prove that the modem link works. A device that
    /// is down fails at once (`.networkUnreachable`) instead of falling back;
    /// an unknown name throws `.noSuchDevice`. Before Linux 5.7 binding needs
    /// CAP_NET_RAW (`.notPermitted` otherwise).
    public static func connect(
        host: String,
        port: UInt16,
        timeoutMilliseconds: Int32,
        interface: String? = nil
    ) throws(Errno) -> FileDescriptor {
        if let interface {
            try validateInterfaceName(interface)
        }
        let deadline = Deadline(timeoutMilliseconds: Int(timeoutMilliseconds))
        return try withResolvedAddresses(host: host, port: port, passive: false) { (info) throws(Errno) -> FileDescriptor in
            var lastError = Errno.hostUnreachable
            var entry: UnsafeMutablePointer<addrinfo>? = info
            while let current = entry {
                entry = current.pointee.ai_next
                let fd: FileDescriptor
                do throws(Errno) {
                    fd = try Socket.make(
                        family: current.pointee.ai_family,
                        type: Socket.stream,
                        protocol: current.pointee.ai_protocol,
                        nonBlocking: true
                    )
                } catch {
                    // E.g. EAFNOSUPPORT for IPv6 on a kernel without it.
                    lastError = error
                    continue
                }
                if let interface {
                    do throws(Errno) {
                        try bindToDevice(fd, interface)
                    } catch {
                        // Independent of the address: the next one would
                        // fail the same way.
                        fd.closeIgnoringErrors()
                        throw error
                    }
                }
                do throws(Errno) {
                    try Socket.connect(fd, to: current.pointee.ai_addr, length: current.pointee.ai_addrlen, deadline: deadline)
                    try fd.setSocketOption(level: Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                    return fd
                } catch {
                    fd.closeIgnoringErrors()
                    lastError = error
                    if error == .timedOut {
                        break
                    }
                }
            }
            throw lastError
        }
    }

    /// Binds with SO_REUSEADDR so a restarted daemon can reclaim its port
    /// while old connections sit in TIME_WAIT. Port 0 picks a free port,
    /// reported in `TCPListener.port`.
    public static func listen(host: String = "127.0.0.1", port: UInt16) throws(Errno) -> TCPListener {
        try withResolvedAddresses(host: host, port: port, passive: true) { (info) throws(Errno) -> TCPListener in
            var lastError = Errno.hostUnreachable
            var entry: UnsafeMutablePointer<addrinfo>? = info
            while let current = entry {
                entry = current.pointee.ai_next
                let fd: FileDescriptor
                do throws(Errno) {
                    fd = try Socket.make(family: current.pointee.ai_family, type: Socket.stream, protocol: current.pointee.ai_protocol)
                } catch {
                    lastError = error
                    continue
                }
                do throws(Errno) {
                    try fd.setSocketOption(level: SOL_SOCKET, SO_REUSEADDR, 1)
                    _ = try syscallOnce { bind(fd.rawValue, current.pointee.ai_addr, current.pointee.ai_addrlen) }
                    _ = try syscallOnce { Glibc.listen(fd.rawValue, 64) }
                    return TCPListener(descriptor: fd, port: try boundPort(fd))
                } catch {
                    fd.closeIgnoringErrors()
                    lastError = error
                }
            }
            throw lastError
        }
    }

    /// The kernel silently truncates a longer name to IFNAMSIZ - 1 bytes,
    /// which could bind to a different device, and an empty name means
    /// "unbind"; neither may pass for a device that does not exist.
    static func validateInterfaceName(_ name: String) throws(Errno) {
        if name.isEmpty || name.utf8.count >= Int(IFNAMSIZ) || name.utf8.contains(0) {
            throw .noSuchDevice
        }
    }

    static func bindToDevice(_ fd: FileDescriptor, _ name: String) throws(Errno) {
        // errno is captured inside the closure: withCString may free a
        // temporary copy on the way out.
        let (result, error) = name.withCString { pointer in
            let result = setsockopt(fd.rawValue, SOL_SOCKET, SO_BINDTODEVICE, pointer, socklen_t(name.utf8.count + 1))
            return (result, errno)
        }
        if result == -1 {
            throw Errno(error)
        }
    }

    static func boundPort(_ fd: FileDescriptor) throws(Errno) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { (pointer) throws(Errno) -> Int32 in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(Errno) -> Int32 in
                try syscallOnce { getsockname(fd.rawValue, address, &length) }
            }
        }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.load(as: sockaddr_in.self).sin_port) }
        case AF_INET6:
            return withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.load(as: sockaddr_in6.self).sin6_port) }
        default:
            throw Errno(EAFNOSUPPORT)
        }
    }

    static func withResolvedAddresses<R>(
        host: String,
        port: UInt16,
        passive: Bool,
        socketType: Int32 = Socket.stream,
        _ body: (UnsafeMutablePointer<addrinfo>) throws(Errno) -> R
    ) throws(Errno) -> R {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = socketType
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var result: UnsafeMutablePointer<addrinfo>?
        var status: Int32
        repeat {
            status = getaddrinfo(host, String(port), &hints, &result)
        } while status == EAI_SYSTEM && errno == EINTR
        guard status == 0, let result else {
            throw resolutionError(status)
        }
        defer { freeaddrinfo(result) }
        return try body(result)
    }

    /// getaddrinfo has its own error space; callers only need to know
    /// whether retrying later could help, which EHOSTUNREACH conveys.
    private static func resolutionError(_ status: Int32) -> Errno {
        switch status {
        case EAI_SYSTEM: return Errno.current
        case EAI_MEMORY: return Errno(ENOMEM)
        case EAI_FAMILY, EAI_SOCKTYPE, EAI_SERVICE, EAI_BADFLAGS: return .invalidArgument
        default: return .hostUnreachable
        }
    }
}

/// A listening TCP socket and the port it actually got.
public struct TCPListener: Sendable {
    public let descriptor: FileDescriptor
    public let port: UInt16

    public init(descriptor: FileDescriptor, port: UInt16) {
        self.descriptor = descriptor
        self.port = port
    }

    /// Blocks until a client arrives unless `descriptor` was made
    /// non-blocking (then `.wouldBlock` when nobody is queued). The accepted
    /// socket is close-on-exec with TCP_NODELAY; it is in blocking mode, as
    /// accept(2) returns it (StreamConnection switches it to non-blocking).
    public func accept() throws(Errno) -> FileDescriptor {
        let fd = try Socket.accept(descriptor)
        do throws(Errno) {
            try fd.setSocketOption(level: Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
        return fd
    }
}
