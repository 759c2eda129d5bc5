import Glibc

/// Remaining-time arithmetic for syscalls that take a relative timeout but may
/// be restarted after EINTR; restarting with the original timeout could wait
/// far longer than asked.
struct Deadline {
    /// nil = wait forever.
    private let endNanoseconds: Int64?

    init(timeoutMilliseconds: Int) {
        if timeoutMilliseconds < 0 {
            endNanoseconds = nil
        } else {
            endNanoseconds = SystemTime.monotonicNanoseconds() + Int64(timeoutMilliseconds) * 1_000_000
        }
    }

    /// Milliseconds left for poll(2): -1 = infinite, rounded up so a poll
    /// never returns just before the deadline and forces a spin.
    var remainingPollMilliseconds: Int32 {
        guard let end = endNanoseconds else { return -1 }
        let left = end - SystemTime.monotonicNanoseconds()
        if left <= 0 { return 0 }
        let milliseconds = (left + 999_999) / 1_000_000
        return Int32(clamping: milliseconds)
    }

    var remainingNanoseconds: Int64? {
        guard let end = endNanoseconds else { return nil }
        return max(0, end - SystemTime.monotonicNanoseconds())
    }

    var hasExpired: Bool {
        guard let end = endNanoseconds else { return false }
        return SystemTime.monotonicNanoseconds() >= end
    }
}
