import Glibc

/// Clock readings for the rest of the firmware, which must not import Glibc.
public enum SystemTime {
    /// CLOCK_MONOTONIC never jumps when the wall clock is set (NTP, phone
    /// sync), so all timeouts and intervals are measured on it.
    public static func monotonicNanoseconds() -> Int64 {
        nanoseconds(CLOCK_MONOTONIC)
    }

    /// Milliseconds since 1970-01-01 UTC; only for timestamps shown to people
    /// or sent to the centre, never for measuring durations.
    public static func wallMilliseconds() -> Int64 {
        nanoseconds(CLOCK_REALTIME) / 1_000_000
    }

    private static func nanoseconds(_ clock: clockid_t) -> Int64 {
        var spec = timespec()
        // clock_gettime cannot fail for these always-present clocks with a
        // valid pointer, so there is no error path to type.
        _ = clock_gettime(clock, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
