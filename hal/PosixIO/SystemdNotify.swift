import Glibc

/// The service manager's readiness and watchdog protocol (sd_notify(3)), spoken directly: one datagram of
/// `KEY=VALUE` lines to the AF_UNIX socket named by `$NOTIFY_SOCKET`. No libsystemd: the protocol is a
/// single sendto(2), and the daemon must not depend on a library that is absent from minimal images.
///
/// Without `$NOTIFY_SOCKET` (started by hand, in tests, under another supervisor) there is no notifier
/// and every call site simply has nothing to send to.
public struct SystemdNotifier: Sendable, CustomStringConvertible {
    /// What the daemon tells the service manager.
    public enum Message: Sendable, Equatable {
        /// Start-up is complete: `Type=notify` units count as started only now.
        case ready
        /// Shutting down on purpose (so a slow stop is not taken for a hang).
        case stopping
        /// The keep-alive that `WatchdogSec=` expects at least once per interval.
        case watchdog
        /// One line of free text shown by `systemctl status`.
        case status(String)

        var line: String {
            switch self {
            case .ready: "READY=1"
            case .stopping: "STOPPING=1"
            case .watchdog: "WATCHDOG=1"
            // A newline would start a new assignment: the text could forge READY=1 or a MAINPID.
            case .status(let text): "STATUS=" + String(text.map { $0.isNewline ? " " : $0 })
            }
        }
    }

    /// The socket as the environment names it: a path, or `@name` for the abstract namespace.
    public let socket: String
    private let address: [UInt8]

    /// nil when `socket` is unset, empty, neither absolute nor abstract, or too long for `sun_path`: there is
    /// nobody to notify (systemd itself only ever passes absolute or abstract names).
    public init?(socket: String?) {
        guard let socket, let first = socket.first, first == "/" || first == "@" else { return nil }
        var bytes = Array(socket.utf8)
        guard !bytes.contains(0) else { return nil }
        // The abstract namespace is a leading NUL; its name is not NUL-terminated and its length counts.
        if first == "@" { bytes[0] = 0 }
        guard bytes.count < MemoryLayout<sockaddr_un>.size - MemoryLayout<sa_family_t>.size else { return nil }
        self.socket = socket
        address = bytes
    }

    /// The notifier for this process, from `$NOTIFY_SOCKET`.
    public static func fromEnvironment() -> SystemdNotifier? {
        SystemdNotifier(socket: getenv("NOTIFY_SOCKET").map { String(cString: $0) })
    }

    public var description: String { "notify socket \(socket)" }

    /// Sends the messages as one datagram. A message not delivered (the manager gone, its queue full) is
    /// reported, never retried: the next keep-alive is the retry. Never blocks: the keep-alive is sent from the
    /// runtime's event loop, and a manager that stops reading (a full queue, `.wouldBlock`) must not stop the alarm.
    public func send(_ messages: Message...) throws(Errno) {
        try send(messages)
    }

    public func send(_ messages: [Message]) throws(Errno) {
        let datagram = Array(messages.map(\.line).joined(separator: "\n").utf8)
        let fd = try Socket.make(family: AF_UNIX, type: Socket.datagram)
        defer { fd.closeIgnoringErrors() }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: address) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count)
        _ = try syscallRetrying {
            withUnsafePointer(to: &socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    datagram.withUnsafeBytes { sendto(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), raw, length) }
                }
            }
        }
    }

    /// How often `WATCHDOG=1` is due, from `$WATCHDOG_USEC` and `$WATCHDOG_PID`: nil when the unit has no
    /// watchdog or the watchdog belongs to another process (a child inheriting the environment must not keep
    /// its parent alive). Half the manager's timeout, as sd_watchdog_enabled(3) advises, so one late ping
    /// is not yet a restart.
    public static func watchdogPingInterval(microseconds: String?, pid: String?, ownPID: pid_t = getpid()) -> Duration? {
        guard let microseconds, let value = UInt64(microseconds), value > 0 else { return nil }
        if let pid {
            guard let owner = pid_t(pid), owner == ownPID else { return nil }
        }
        return .microseconds(value / 2)
    }

    /// `watchdogPingInterval` for this process's environment.
    public static func watchdogPingIntervalFromEnvironment() -> Duration? {
        watchdogPingInterval(microseconds: getenv("WATCHDOG_USEC").map { String(cString: $0) },
                             pid: getenv("WATCHDOG_PID").map { String(cString: $0) })
    }
}
