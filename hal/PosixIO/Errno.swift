import Glibc

/// A typed POSIX error number.
///
/// Every failing call in this module throws exactly this type, so callers can
/// switch on the cases they care about without string matching.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Must be read immediately after the failing call: any intervening libc
    /// call (including allocation) may overwrite `errno`.
    public static var current: Errno {
        Errno(rawValue: errno)
    }

    public var description: String {
        // strerror(3) is not guaranteed thread-safe; the XSI strerror_r is.
        var buffer = [CChar](repeating: 0, count: 128)
        let result = strerror_r(rawValue, &buffer, buffer.count)
        let text: String
        if result == 0 {
            text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        } else {
            text = "Unknown error"
        }
        return "\(text) (errno \(rawValue))"
    }

    public static var interrupted: Errno { Errno(EINTR) }
    public static var wouldBlock: Errno { Errno(EAGAIN) }
    public static var connectionRefused: Errno { Errno(ECONNREFUSED) }
    public static var connectionReset: Errno { Errno(ECONNRESET) }
    public static var brokenPipe: Errno { Errno(EPIPE) }
    public static var timedOut: Errno { Errno(ETIMEDOUT) }
    public static var noSuchFile: Errno { Errno(ENOENT) }
    public static var notConnected: Errno { Errno(ENOTCONN) }
    public static var inProgress: Errno { Errno(EINPROGRESS) }
    public static var addressInUse: Errno { Errno(EADDRINUSE) }
    public static var badFileDescriptor: Errno { Errno(EBADF) }
    public static var permissionDenied: Errno { Errno(EACCES) }
    public static var noSpace: Errno { Errno(ENOSPC) }
    public static var invalidArgument: Errno { Errno(EINVAL) }
    public static var hostUnreachable: Errno { Errno(EHOSTUNREACH) }
    /// No route to the destination's network, e.g. through an interface
    /// (SO_BINDTODEVICE) that is down.
    public static var networkUnreachable: Errno { Errno(ENETUNREACH) }
    public static var networkDown: Errno { Errno(ENETDOWN) }
    /// E.g. a named network interface that does not exist.
    public static var noSuchDevice: Errno { Errno(ENODEV) }
    public static var notPermitted: Errno { Errno(EPERM) }
    /// The operation is missing from this kernel or C library.
    public static var notImplemented: Errno { Errno(ENOSYS) }
}
