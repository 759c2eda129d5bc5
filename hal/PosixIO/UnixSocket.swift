import Glibc

/// Local control sockets (alarmctl ↔ alarmd).
public enum UnixSocket {
    /// Listens on `path`, backlog 16.
    ///
    /// A leftover socket file from a crashed run is removed, but only when
    /// nobody answers on it: deleting a live daemon's socket would silently
    /// orphan that daemon. Anything at `path` that is not a socket is never
    /// deleted (`.addressInUse`).
    ///
    /// The socket file must never be reachable by other users, not even
    /// between bind(2) and chmod(2). Rather than changing the process-wide
    /// umask (which would race with files created by other threads), the
    /// socket inode is fchmod-ed before bind: Linux creates the file with the
    /// socket inode's mode masked by the umask, so it starts out at most
    /// owner-only and is then widened to `mode`.
    public static func listen(path: String, mode: mode_t = 0o600) throws(Errno) -> FileDescriptor {
        var address = try socketAddress(path)
        try removeStaleSocket(at: path, address: &address)

        let fd = try Socket.make(family: AF_UNIX, type: Socket.stream)
        var bound = false
        do throws(Errno) {
            _ = try syscallRetrying { fchmod(fd.rawValue, mode & 0o700) }
            try withSockaddr(&address) { (pointer, length) throws(Errno) in
                _ = try syscallOnce { bind(fd.rawValue, pointer, length) }
            }
            bound = true
            _ = try syscallRetrying { chmod(path, mode) }
            _ = try syscallOnce { Glibc.listen(fd.rawValue, 16) }
            return fd
        } catch {
            if bound {
                _ = unlink(path)
            }
            fd.closeIgnoringErrors()
            throw error
        }
    }

    /// Takes the next client from a `listen(path:)` descriptor. Blocks unless
    /// the listener was made non-blocking (then `.wouldBlock` when none is
    /// queued). The result is close-on-exec and in blocking mode.
    public static func accept(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor {
        try Socket.accept(listener)
    }

    /// A blocking, close-on-exec connection to `path`.
    public static func connect(path: String) throws(Errno) -> FileDescriptor {
        var address = try socketAddress(path)
        let fd = try Socket.make(family: AF_UNIX, type: Socket.stream)
        do throws(Errno) {
            try withSockaddr(&address) { (pointer, length) throws(Errno) in
                try Socket.connect(fd, to: pointer, length: length, deadline: Deadline(timeoutMilliseconds: -1))
            }
            return fd
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
    }

    /// The kernel-verified uid of the process at the other end (SO_PEERCRED),
    /// as of connect(2); this is what authorisation decisions must rest on.
    public static func peerUID(_ fd: FileDescriptor) throws(Errno) -> uid_t {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } — the Glibc module
        // hides it behind _GNU_SOURCE, so the layout is spelled out here.
        var credentials: (pid: pid_t, uid: uid_t, gid: gid_t) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        _ = try syscallOnce { getsockopt(fd.rawValue, SOL_SOCKET, SO_PEERCRED, &credentials, &length) }
        guard length == socklen_t(MemoryLayout.size(ofValue: credentials)) else {
            throw .invalidArgument
        }
        return credentials.uid
    }

    private static func removeStaleSocket(at path: String, address: inout sockaddr_un) throws(Errno) {
        var info = stat()
        if lstat(path, &info) != 0 {
            let error = Errno.current
            if error == .noSuchFile {
                return
            }
            throw error
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .addressInUse
        }
        // Non-blocking so a live daemon with a full backlog counts as alive
        // (EAGAIN) instead of blocking us.
        let probe = try Socket.make(family: AF_UNIX, type: Socket.stream, nonBlocking: true)
        defer { probe.closeIgnoringErrors() }
        let status = withSockaddr(&address) { pointer, length in
            Glibc.connect(probe.rawValue, pointer, length)
        }
        if status == 0 {
            throw .addressInUse
        }
        let error = Errno.current
        switch error {
        case .connectionRefused:
            if unlink(path) != 0 {
                let unlinkError = Errno.current
                if unlinkError != .noSuchFile {
                    throw unlinkError
                }
            }
        case .wouldBlock, .inProgress:
            throw .addressInUse
        case .noSuchFile:
            return
        default:
            throw error
        }
    }

    private static func socketAddress(_ path: String) throws(Errno) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // Leaves room for the terminating NUL; an empty path would mean the
        // abstract namespace, which we do not use.
        guard !bytes.isEmpty, !bytes.contains(0) else { throw .invalidArgument }
        guard bytes.count < capacity else { throw Errno(ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        return address
    }

    private static func withSockaddr<R, E: Error>(
        _ address: inout sockaddr_un,
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> R
    ) throws(E) -> R {
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(E) -> R in
                try body(raw, length)
            }
        }
    }
}
