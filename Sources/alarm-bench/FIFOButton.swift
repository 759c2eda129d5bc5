import Glibc
import PosixIO

/// A gpio-keys event device stood in for by a FIFO: the bench writes Linux `struct input_event` records (64-bit:
/// timeval 16 bytes, type u16, code u16, value s32) with CLOCK_REALTIME stamps, as a device that refuses
/// EVIOCSCLOCKID would; the daemon maps them onto its monotonic clock.
final class FIFOButton {
    /// KEY_PROG1, the key the benches' boards name (`input:…?key=KEY_PROG1`).
    static let keyProg1: UInt16 = 148
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        unlink(path)
        guard mkfifo(path, 0o600) == 0 else { throw BenchFailure("mkfifo \(path): errno \(errno)") }
        // Read-write: never blocks, and the bench stays the FIFO's writer until it closes.
        descriptor = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw BenchFailure("open \(path): errno \(errno)") }
    }

    deinit { close(descriptor) }

    /// One key edge of KEY_PROG1 (1 pressed, 0 released) and its EV_SYN, in one write.
    func write(value: Int32) throws {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let bytes = Self.event(now, type: 1, code: Self.keyProg1, value: value) + Self.event(now, type: 0, code: 0, value: 0)
        guard Glibc.write(descriptor, bytes, bytes.count) == bytes.count else { throw BenchFailure("write \(path): errno \(errno)") }
    }

    static func event(_ time: timespec, type: UInt16, code: UInt16, value: Int32) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        return le(Int64(time.tv_sec)) + le(Int64(time.tv_nsec / 1000)) + le(type) + le(code) + le(value)
    }
}

/// Sleeps the bench's own thread (waiting on a real process), resuming after signals.
func pause(seconds: Double) {
    var left = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var request = left
    while nanosleep(&request, &left) == -1 && errno == EINTR { request = left }
}

/// Removes a bench's scratch directory.
func removeTree(_ path: String) {
    _ = try? ChildProcess.spawn("/bin/rm", ["-rf", path]).wait(timeoutMilliseconds: 10_000)
}
