import AlarmCore
import CBoardIO
import Glibc
import HAL
import PosixIO

/// ioctl(2) on a device node: typed errors, EINTR retried. The argument is passed by address.
enum DeviceControl {
    static func ioctl<T>(_ fd: FileDescriptor, _ request: UInt, _ argument: inout T) throws(Errno) {
        let failure = withUnsafeMutableBytes(of: &argument) { raw -> Errno? in
            while cboardio_ioctl(fd.rawValue, request, raw.baseAddress) == -1 {
                let error = Errno.current
                if error != .interrupted { return error }
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// For requests whose argument is a buffer (its length encoded in the request): the buffer's bytes, not the
    /// address of an array value, go to the kernel.
    static func ioctl(_ fd: FileDescriptor, _ request: UInt, buffer: UnsafeMutableRawBufferPointer) throws(Errno) {
        while cboardio_ioctl(fd.rawValue, request, buffer.baseAddress) == -1 {
            let error = Errno.current
            if error != .interrupted { throw error }
        }
    }
}

/// The input subsystem's per-open settings.
enum InputDevice {
    /// EVIOCSCLOCKID: this open file's event timestamps on CLOCK_MONOTONIC instead of the default
    /// CLOCK_REALTIME (Linux 3.4 and later). A pipe, a FIFO or a regular file answers ENOTTY.
    static func useMonotonicTimestamps(_ fd: FileDescriptor) throws(Errno) {
        var clock = Int32(CLOCK_MONOTONIC)
        try DeviceControl.ioctl(fd, cboardio_eviocsclockid_ioctl(), &clock)
    }

    /// The kernel's key bitmap is an array of `unsigned long` covering codes 0...KEY_MAX.
    static let keyBitmapWords = (Int(KEY_MAX) + UInt.bitWidth) / UInt.bitWidth

    /// EVIOCGKEY: whether `key` is held down now. A pipe, a FIFO or a regular file answers ENOTTY.
    static func isKeyDown(_ fd: FileDescriptor, key: UInt16) throws(Errno) -> Bool {
        var bitmap = [UInt](repeating: 0, count: keyBitmapWords)
        let failure = bitmap.withUnsafeMutableBytes { raw -> Errno? in
            do throws(Errno) {
                try DeviceControl.ioctl(fd, cboardio_eviocgkey_ioctl(UInt32(raw.count)), buffer: raw)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
        return isSet(key, in: bitmap)
    }

    /// The kernel's test_bit on its bitmap: word `key / bits per long`, bit `key % bits per long`, whatever the byte
    /// order (indexing the bytes would be wrong on a big-endian machine).
    static func isSet(_ key: UInt16, in bitmap: [UInt]) -> Bool {
        let word = Int(key) / UInt.bitWidth
        guard word < bitmap.count else { return false }
        return bitmap[word] & (1 << UInt(Int(key) % UInt.bitWidth)) != 0
    }
}

/// A kernel event's own timestamp, on the clock the kernel stamped it with.
enum KernelStamp: Sendable, Equatable {
    /// CLOCK_MONOTONIC: GPIO v2 line events by default, input events after EVIOCSCLOCKID.
    case monotonic(Duration)
    /// CLOCK_REALTIME: input events when the device refused EVIOCSCLOCKID. Jumps when the wall clock is set.
    case realtime(Duration)
}

/// The kernel's clocks as the board code reads them (tests substitute clocks that follow their own).
struct KernelClocks: Sendable {
    var monotonic: @Sendable () -> Duration
    var realtime: @Sendable () -> Duration

    static let system = KernelClocks(monotonic: { read(CLOCK_MONOTONIC) }, realtime: { read(CLOCK_REALTIME) })

    private static func read(_ clock: clockid_t) -> Duration {
        var spec = timespec()
        // Cannot fail for these always-present clocks with a valid pointer.
        _ = clock_gettime(clock, &spec)
        return .seconds(Int64(spec.tv_sec)) + .nanoseconds(Int64(spec.tv_nsec))
    }
}

/// Turns kernel event timestamps into `Instant`s on the injected clock.
///
/// Production's clock (`SystemClock`) *is* CLOCK_MONOTONIC, so a monotonic stamp is the instant itself: the
/// time the kernel saw the edge, however late the reader got to it. Whether the injected clock is on that
/// timeline is checked on every read (its `now` within `sameTimeline` of CLOCK_MONOTONIC's); a clock that is
/// not (a manual clock in a test or a simulation) gets the event's age instead: `now - (kernel now - stamp)`.
/// A realtime stamp is first carried onto CLOCK_MONOTONIC by its age on CLOCK_REALTIME. No result is ever
/// later than the clock's `now`.
struct KernelTimeline: Sendable {
    /// Two back-to-back reads of one clock differ by far less; a manual clock is never this close by chance.
    static let sameTimeline = Duration.milliseconds(50)
    /// A realtime stamp older than this at read time is not believed (a wall clock set between the event and
    /// the read, a made-up record): the edge gets the read time instead.
    static let realtimeTrust = Duration.seconds(10)

    /// The clocks read once per batch of records.
    struct Reading: Sendable {
        var now: Instant
        var monotonic: Duration
        var realtime: Duration
    }

    struct Mapped: Sendable, Equatable {
        var instant: Instant
        /// The stamp was not believed (`realtimeTrust`): `instant` is the read time.
        var distrusted = false
    }

    let clock: any Clock
    let kernel: KernelClocks

    func read() -> Reading {
        // The injected clock first: a gap before the kernel's read can only make events look older in the
        // age mapping, never later than now.
        let now = clock.now()
        return Reading(now: now, monotonic: kernel.monotonic(), realtime: kernel.realtime())
    }

    static func map(_ stamp: KernelStamp, _ reading: Reading) -> Mapped {
        let age: Duration
        switch stamp {
        case .monotonic(let time):
            age = max(reading.monotonic - time, .zero)
        case .realtime(let time):
            let realtimeAge = reading.realtime - time
            if realtimeAge > realtimeTrust { return Mapped(instant: reading.now, distrusted: true) }
            // A stamp ahead of the wall clock (stepped back since) is taken as "just now".
            age = max(realtimeAge, .zero)
        }
        let sameTimeline = abs(reading.now.sinceOrigin - reading.monotonic) <= sameTimeline
        let instant = sameTimeline ? Instant(sinceOrigin: reading.monotonic - age) : reading.now - age
        return Mapped(instant: min(instant, reading.now))
    }
}

private func abs(_ duration: Duration) -> Duration { duration < .zero ? .zero - duration : duration }
