import Glibc
import Synchronization

/// A helper process started by a tool or test (e.g. a simulated centre),
/// with a reliable way to stop it again.
public final class ChildProcess: Sendable {
    public let pid: pid_t

    /// A pidfd lets `wait` sleep in poll(2) until the exact moment of exit;
    /// nil on kernels before 5.3, where `wait` falls back to polling waitpid.
    private let exitDescriptor: FileDescriptor?

    /// The decoded exit status once reaped. Guarding `signal` with the same
    /// lock guarantees we never signal a PID the kernel may have recycled.
    private let exitStatus = Mutex<Int32?>(nil)

    private init(pid: pid_t) {
        self.pid = pid
        self.exitDescriptor = Self.openPidfd(pid)
    }

    deinit {
        exitDescriptor?.closeIgnoringErrors()
    }

    /// Starts `executable` (looked up in PATH when it contains no "/").
    /// `environment` nil inherits ours; `stdin`/`stdout`/`stderr` nil inherit ours
    /// (a test drives a child's stdin through `PosixPipe`).
    ///
    /// The child gets an empty signal mask and default dispositions: our
    /// daemons block or ignore signals (for signal-handling threads, or
    /// SIGPIPE), and both survive exec, which would leave a child that
    /// ignores SIGTERM forever.
    public static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: FileDescriptor? = nil,
        stdout: FileDescriptor? = nil,
        stderr: FileDescriptor? = nil
    ) throws(Errno) -> ChildProcess {
        var attributes = posix_spawnattr_t()
        try check(posix_spawnattr_init(&attributes))
        defer { posix_spawnattr_destroy(&attributes) }

        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        try check(posix_spawnattr_setsigmask(&attributes, &emptyMask))

        var defaulted = sigset_t()
        sigemptyset(&defaulted)
        // Every standard signal, a superset of the ones that matter (INT, TERM,
        // PIPE, CHLD, HUP, QUIT): only ignored ones survive exec, and any of
        // them could be ignored by the parent.
        for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP {
            sigaddset(&defaulted, Int32(signal))
        }
        try check(posix_spawnattr_setsigdefault(&attributes, &defaulted))
        try check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)))

        var actions = posix_spawn_file_actions_t()
        try check(posix_spawn_file_actions_init(&actions))
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            try check(posix_spawn_file_actions_adddup2(&actions, stdin.rawValue, STDIN_FILENO))
        }
        if let stdout {
            try check(posix_spawn_file_actions_adddup2(&actions, stdout.rawValue, STDOUT_FILENO))
        }
        if let stderr {
            try check(posix_spawn_file_actions_adddup2(&actions, stderr.rawValue, STDERR_FILENO))
        }

        let environmentStrings = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var pid: pid_t = 0
        let status = try withCStringArray([executable] + arguments) { (argv) throws(Errno) -> Int32 in
            try withOptionalCStringArray(environmentStrings) { (envp) throws(Errno) -> Int32 in
                let envp = envp ?? UnsafePointer(environ)
                if executable.utf8.contains(UInt8(ascii: "/")) {
                    return posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
                }
                return posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
            }
        }
        try check(status)
        return ChildProcess(pid: pid)
    }

    /// Sends `sig` unless the child has already been reaped.
    public func signal(_ sig: Int32) {
        exitStatus.withLock { status in
            if status == nil {
                // ESRCH (exited, not yet reaped) is harmless; nothing else
                // can fail for our own child.
                _ = kill(pid, sig)
            }
        }
    }

    /// The exit status (128 + signal number when killed by a signal) if the
    /// child exits within the timeout, otherwise nil. A negative timeout waits
    /// indefinitely. Safe to call repeatedly and from several threads.
    public func wait(timeoutMilliseconds: Int) throws(Errno) -> Int32? {
        let deadline = Deadline(timeoutMilliseconds: timeoutMilliseconds)
        while true {
            if let status = try reapIfExited() {
                return status
            }
            if deadline.hasExpired {
                return nil
            }
            if let exitDescriptor {
                let ready = try exitDescriptor.poll(events: Int16(POLLIN), timeoutMilliseconds: deadline.remainingPollMilliseconds)
                if ready != 0, try reapIfExited() == nil {
                    // Readable yet not reapable should not happen; back off
                    // rather than spin if some kernel disagrees.
                    Self.sleep(nanoseconds: 1_000_000)
                }
            } else {
                Self.sleep(nanoseconds: min(10_000_000, deadline.remainingNanoseconds ?? 10_000_000))
            }
        }
    }

    /// SIGTERM, up to `graceMilliseconds` to exit, then SIGKILL. Returns the
    /// exit status, or -1 if it could not be determined (the child was reaped
    /// elsewhere, or did not die even from SIGKILL within 10 s, which only an
    /// uninterruptible kernel wait can cause).
    @discardableResult
    public func stop(graceMilliseconds: Int = 3000) -> Int32 {
        if let status = try? reapIfExited() {
            return status
        }
        signal(SIGTERM)
        if let status = (try? wait(timeoutMilliseconds: graceMilliseconds)) ?? nil {
            return status
        }
        signal(SIGKILL)
        return (try? wait(timeoutMilliseconds: 10_000)) ?? nil ?? -1
    }

    /// The running program's own path, so a tool can start its sibling
    /// binaries from the same build directory. Falls back to argv[0] when
    /// /proc is unavailable.
    public static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else {
            return CommandLine.arguments.first ?? ""
        }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func reapIfExited() throws(Errno) -> Int32? {
        try exitStatus.withLock { (status) throws(Errno) -> Int32? in
            if let status {
                return status
            }
            var raw: Int32 = 0
            let result = try syscallRetrying { waitpid(pid, &raw, WNOHANG) }
            if result == 0 {
                return nil
            }
            let decoded = Self.decode(raw)
            status = decoded
            return decoded
        }
    }

    /// WIFEXITED/WEXITSTATUS/WTERMSIG are C macros Swift cannot import.
    private static func decode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        if signal == 0 {
            return (raw >> 8) & 0xff
        }
        return 128 + signal
    }

    private static func sleep(nanoseconds: Int64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR {
            request = remaining
        }
    }

    private static func check(_ status: Int32) throws(Errno) {
        // posix_spawn* return the error number instead of setting errno.
        if status != 0 {
            throw Errno(status)
        }
    }

    // MARK: pidfd

    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias RawSyscall = @convention(c) (Int, pid_t, UInt32) -> Int

    /// Not in the Glibc module, and glibc only wraps it since 2.36, so it is
    /// found at run time. The raw-syscall fallback calls the variadic
    /// syscall(3) through a fixed-arity pointer, which is ABI-compatible on
    /// Linux x86_64/arm64/arm for integer arguments. 434 is pidfd_open on
    /// every architecture (new syscalls share one number table since 5.1).
    private static func openPidfd(_ pid: pid_t) -> FileDescriptor? {
        var fd: Int32 = -1
        if let symbol = dlsym(nil, "pidfd_open") {
            fd = unsafeBitCast(symbol, to: PidfdOpen.self)(pid, 0)
        } else if let symbol = dlsym(nil, "syscall") {
            fd = Int32(truncatingIfNeeded: unsafeBitCast(symbol, to: RawSyscall.self)(434, pid, 0))
        }
        return fd >= 0 ? FileDescriptor(rawValue: fd) : nil
    }
}

private func withCStringArray<R>(
    _ strings: [String],
    _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws(Errno) -> R
) throws(Errno) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = []
    pointers.reserveCapacity(strings.count + 1)
    defer { pointers.forEach { free($0) } }
    for string in strings {
        guard let copy = strdup(string) else { throw Errno(ENOMEM) }
        pointers.append(copy)
    }
    pointers.append(nil)
    let result = pointers.withUnsafeBufferPointer { buffer in
        Result { () throws(Errno) -> R in try body(buffer.baseAddress!) }
    }
    return try result.get()
}

private func withOptionalCStringArray<R>(
    _ strings: [String]?,
    _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) throws(Errno) -> R
) throws(Errno) -> R {
    guard let strings else {
        return try body(nil)
    }
    return try withCStringArray(strings) { (pointer) throws(Errno) -> R in try body(pointer) }
}
