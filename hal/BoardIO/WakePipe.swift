import Glibc
import PosixIO

/// A self-pipe that wakes a thread blocked in poll(2): for stop requests and for retry timers, so the reader
/// thread never polls on a timeout. Both ends are non-blocking: a full pipe already holds a pending wake.
final class WakePipe: Sendable {
    let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor

    init() throws(Errno) {
        var ends: [Int32] = [-1, -1]
        // pipe2(2) is hidden behind _GNU_SOURCE in Glibc's module; pipe + fcntl is the same here (no fork
        // can race us between the calls in this daemon: helper processes are spawned with posix_spawn).
        guard pipe(&ends) == 0 else { throw Errno.current }
        readEnd = FileDescriptor(rawValue: ends[0])
        writeEnd = FileDescriptor(rawValue: ends[1])
        for end in [readEnd, writeEnd] {
            _ = fcntl(end.rawValue, F_SETFD, FD_CLOEXEC)
            try end.setNonBlocking()
        }
    }

    deinit {
        try? readEnd.close()
        try? writeEnd.close()
    }

    func wake() { _ = try? writeEnd.write([1]) }

    /// Empties the pipe; the reason for waking lives in the owner's state, not in the bytes.
    func drain() {
        while let bytes = try? readEnd.read(upTo: 64), !bytes.isEmpty {}
    }
}
