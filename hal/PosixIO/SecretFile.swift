import Glibc

/// Files holding secrets (storage key, SIM PIN): they must belong to the current user and be readable by
/// nobody else. The checks are made on the opened descriptor (fstat), not on the path, so the file that
/// is checked is the file that is read; symlinks are not followed.
public enum SecretFile {
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case missing
        case unreadable(Errno)
        case wrongOwner(expected: uid_t)
        case readableByOthers(mode: mode_t)
        case tooLarge

        public var description: String {
            switch self {
            case .missing: "does not exist"
            case .unreadable(let errno): "cannot be read (\(errno))"
            case .wrongOwner(let uid): "must be owned by the daemon's user (uid \(uid))"
            case .readableByOthers(let mode): "is readable by others (mode \(String(mode, radix: 8))); expected 0600 or 0400"
            case .tooLarge: "is too large for a secret"
            }
        }
    }

    public static func read(_ path: String, limit: Int = 4096) throws(Problem) -> [UInt8] {
        let fd: FileDescriptor
        do {
            // Non-blocking: a FIFO planted at the path must not hang the start-up.
            fd = try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        } catch {
            throw error == .noSuchFile ? .missing : .unreadable(error)
        }
        defer { try? fd.close() }
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else { throw .unreadable(Errno.current) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable(Errno(EINVAL)) }
        guard info.st_uid == getuid() else { throw .wrongOwner(expected: getuid()) }
        guard info.st_mode & 0o077 == 0 else { throw .readableByOthers(mode: info.st_mode & 0o777) }
        var contents: [UInt8] = []
        while true {
            let chunk: [UInt8]
            do {
                chunk = try fd.read(upTo: 4096)
            } catch {
                throw .unreadable(error)
            }
            if chunk.isEmpty { return contents }
            contents += chunk
            if contents.count > limit { throw .tooLarge }
        }
    }
}
