import Glibc

// What kind of object a descriptor refers to, for code that must pick the
// right syscall: send(2) only works on sockets, tcflush(3) only on terminals.

extension FileDescriptor {
    /// fstat(2) rather than probing with getsockopt: it cannot be confused
    /// by an error that means something else.
    func isSocket() throws(Errno) -> Bool {
        var info = stat()
        _ = try syscallOnce { fstat(rawValue, &info) }
        return info.st_mode & S_IFMT == S_IFSOCK
    }

    /// Whether the descriptor is a terminal (tty, pty side, USB serial).
    /// ENOTTY is the expected answer for everything else, so it is not an
    /// error worth reporting.
    var isTerminal: Bool {
        isatty(rawValue) == 1
    }

    /// POLLHUP/POLLERR right now. A failing poll counts as hung up: callers
    /// then read on, and the read reports the precise error.
    var isHungUp: Bool {
        guard let events = try? poll(events: Int16(POLLIN), timeoutMilliseconds: 0) else {
            return true
        }
        return events & Int16(POLLHUP | POLLERR) != 0
    }
}
