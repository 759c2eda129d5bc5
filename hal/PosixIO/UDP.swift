import Glibc

/// Connected UDP sockets: one peer, each write one datagram, and ICMP errors (port unreachable) reported on the
/// next read or write instead of being lost.
public enum UDP {
    /// A non-blocking, close-on-exec datagram socket connected to the first address of `host` that takes it,
    /// bound to `interface` when given (SO_BINDTODEVICE, as for TCP).
    public static func connect(host: String, port: UInt16, interface: String? = nil) throws(Errno) -> FileDescriptor {
        if let interface { try TCP.validateInterfaceName(interface) }
        return try TCP.withResolvedAddresses(host: host, port: port, passive: false, socketType: Socket.datagram) {
            (info) throws(Errno) -> FileDescriptor in
            var lastError = Errno.hostUnreachable
            var entry: UnsafeMutablePointer<addrinfo>? = info
            while let current = entry {
                entry = current.pointee.ai_next
                let fd: FileDescriptor
                do throws(Errno) {
                    fd = try Socket.make(family: current.pointee.ai_family, type: Socket.datagram,
                                         protocol: current.pointee.ai_protocol, nonBlocking: true)
                } catch {
                    lastError = error
                    continue
                }
                do throws(Errno) {
                    if let interface { try TCP.bindToDevice(fd, interface) }
                    _ = try syscallOnce { Glibc.connect(fd.rawValue, current.pointee.ai_addr, current.pointee.ai_addrlen) }
                    return fd
                } catch {
                    fd.closeIgnoringErrors()
                    lastError = error
                }
            }
            throw lastError
        }
    }

    /// A bound datagram socket (port 0 picks one), for receivers and tests.
    public static func bind(host: String = "127.0.0.1", port: UInt16) throws(Errno) -> (FileDescriptor, UInt16) {
        try TCP.withResolvedAddresses(host: host, port: port, passive: true, socketType: Socket.datagram) {
            (info) throws(Errno) -> (FileDescriptor, UInt16) in
            let fd = try Socket.make(family: info.pointee.ai_family, type: Socket.datagram, protocol: info.pointee.ai_protocol)
            do throws(Errno) {
                _ = try syscallOnce { Glibc.bind(fd.rawValue, info.pointee.ai_addr, info.pointee.ai_addrlen) }
                return (fd, try TCP.boundPort(fd))
            } catch {
                fd.closeIgnoringErrors()
                throw error
            }
        }
    }
}
