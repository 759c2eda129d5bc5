import Glibc

/// A pipe(2): bytes written to `writer` come out of `reader`, e.g. to drive a child process's stdin
/// (`ChildProcess.spawn(…, stdin: pipe.reader)`) or collect its output.
///
/// Both ends are close-on-exec, so a spawned child holds only the copy `posix_spawn` duplicates onto its
/// standard descriptor (dup2 clears the flag on the copy); otherwise the child would keep its own write end
/// open and never see end-of-file. Like `FileDescriptor`, whoever creates it closes both ends.
public struct PosixPipe: Sendable {
    public let reader: FileDescriptor
    public let writer: FileDescriptor

    public static func open() throws(Errno) -> PosixPipe {
        var ends: [Int32] = [-1, -1]
        _ = try syscallOnce { pipe(&ends) }
        let pair = PosixPipe(reader: FileDescriptor(rawValue: ends[0]), writer: FileDescriptor(rawValue: ends[1]))
        do throws(Errno) {
            for end in [pair.reader, pair.writer] {
                _ = try syscallRetrying { fcntl(end.rawValue, F_SETFD, FD_CLOEXEC) }
            }
        } catch {
            pair.closeBoth()
            throw error
        }
        return pair
    }

    /// Closes both ends, ignoring errors (a pipe end has nothing left to flush).
    public func closeBoth() {
        _ = try? reader.close()
        _ = try? writer.close()
    }
}
