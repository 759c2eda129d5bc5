import Glibc
import Synchronization

/// A directory of small files that must survive power loss (alarm queue,
/// pairing keys, settings). Every mutation is fsync-ed, including the
/// directory entry, because a wearable's battery can die at any instant.
public struct StorageDirectory: Sendable {
    public let path: String

    /// With `create`, missing directories are made (mode 0700: this data is
    /// nobody else's business); without it, the directory must already exist.
    public init(path: String, create: Bool = true) throws(Errno) {
        guard !path.isEmpty else { throw .invalidArgument }
        var normalised = path
        while normalised.count > 1 && normalised.hasSuffix("/") {
            normalised.removeLast()
        }
        if create {
            try Self.makeDirectories(normalised)
        }
        try Self.requireDirectory(normalised)
        self.path = normalised
    }

    /// One subdirectory per concern keeps unrelated files from sharing names.
    public func subdirectory(_ concern: String) throws(Errno) -> StorageDirectory {
        try Self.validate(concern)
        return try StorageDirectory(path: filePath(concern), create: true)
    }

    /// Readers see either the old or the new content, never a mix, even
    /// across a crash: write a temporary, fsync it, rename over the target,
    /// fsync the directory so the rename itself is durable. The file ends up
    /// with mode 0600 regardless of the umask.
    public func replaceAtomically(_ name: String, with bytes: [UInt8]) throws(Errno) {
        try Self.validate(name)
        let temporary = filePath(Self.temporaryName(for: name))
        // O_TRUNC rather than O_EXCL: after a reboot PIDs repeat, so a
        // temporary left by a crash can carry the same name.
        let fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        do throws(Errno) {
            _ = try syscallRetrying { fchmod(fd.rawValue, 0o600) }
            try fd.writeAll(bytes)
            try fd.sync()
            try fd.close()
        } catch {
            fd.closeIgnoringErrors()
            _ = unlink(temporary)
            throw error
        }
        do throws(Errno) {
            _ = try syscallRetrying { rename(temporary, filePath(name)) }
        } catch {
            _ = unlink(temporary)
            throw error
        }
        try syncDirectory()
    }

    /// Appends with a single open/write loop/fsync. O_APPEND makes each
    /// write(2) land at the current end even with several writers; a crash
    /// can still leave a torn final record, so record formats must be
    /// self-delimiting.
    public func appendDurably(_ name: String, _ bytes: [UInt8]) throws(Errno) {
        try Self.validate(name)
        let target = filePath(name)
        var created = false
        let fd: FileDescriptor
        do throws(Errno) {
            fd = try FileDescriptor.open(target, O_WRONLY | O_APPEND)
        } catch where error == .noSuchFile {
            // A new file's directory entry needs its own fsync, which an
            // existing file does not; find out which case this is.
            do throws(Errno) {
                fd = try FileDescriptor.open(target, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, mode: 0o600)
                created = true
            } catch where error == Errno(EEXIST) {
                fd = try FileDescriptor.open(target, O_WRONLY | O_APPEND)
            }
        }
        do throws(Errno) {
            try fd.writeAll(bytes)
            try fd.sync()
            try fd.close()
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
        if created {
            try syncDirectory()
        }
    }

    /// The whole file, or nil when it does not exist.
    public func read(_ name: String) throws(Errno) -> [UInt8]? {
        try Self.validate(name)
        return try Self.readFile(filePath(name), limit: .max)
    }

    /// Durable removal; a file that is already gone is not an error.
    public func remove(_ name: String) throws(Errno) {
        try Self.validate(name)
        if unlink(filePath(name)) != 0 {
            let error = Errno.current
            if error == .noSuchFile {
                return
            }
            throw error
        }
        try syncDirectory()
    }

    /// The names in this directory (no "." or ".."), unsorted.
    public func names() throws(Errno) -> [String] {
        guard let stream = opendir(path) else { throw Errno.current }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes an empty subdirectory durably; one already gone is not an error.
    public func removeDirectory(_ name: String) throws(Errno) {
        try Self.validate(name)
        if rmdir(filePath(name)) != 0 {
            let error = Errno.current
            if error == .noSuchFile { return }
            throw error
        }
        try syncDirectory()
    }

    /// Not validated: for display and for handing to other programs.
    public func filePath(_ name: String) -> String {
        path == "/" ? "/" + name : path + "/" + name
    }

    private func syncDirectory() throws(Errno) {
        let fd = try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
        defer { fd.closeIgnoringErrors() }
        try fd.sync()
    }

    /// Names are single path components so a caller-supplied name can never
    /// escape the directory.
    private static func validate(_ name: String) throws(Errno) {
        if name.isEmpty || name == "." || name == ".." || name.utf8.contains(UInt8(ascii: "/")) || name.utf8.contains(0) {
            throw .invalidArgument
        }
    }

    /// PID plus a per-process counter: two threads replacing the same file
    /// must not write into one temporary.
    private static func temporaryName(for name: String) -> String {
        let sequence = temporarySequence.add(1, ordering: .relaxed).newValue
        return "\(name).tmp-\(getpid())-\(sequence)"
    }

    private static let temporarySequence = Atomic<Int>(0)

    private static func makeDirectories(_ path: String) throws(Errno) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 {
                let error = Errno.current
                if error != Errno(EEXIST) {
                    throw error
                }
            }
        }
    }

    private static func requireDirectory(_ path: String) throws(Errno) {
        var info = stat()
        _ = try syscallOnce { stat(path, &info) }
        if info.st_mode & S_IFMT != S_IFDIR {
            throw Errno(ENOTDIR)
        }
    }
}
