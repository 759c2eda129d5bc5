import Glibc
import HAL

/// Storage as slow as an SD card: every durable write takes `delay` longer before it returns, the way an fsync on
/// a card can take 10–500 ms. For benchmarks and tests of what must not wait for storage (the dial).
public final class SlowJournal: JournalStore {
    let inner: any JournalStore
    let delay: Duration

    public init(wrapping inner: any JournalStore, delay: Duration) {
        self.inner = inner
        self.delay = delay
    }

    public var size: Int { inner.size }
    public func latest() throws(HALError) -> (entry: [UInt8]?, problems: [String]) { try inner.latest() }

    public func append(_ entry: [UInt8]) throws(HALError) {
        try inner.append(entry)
        stall()
    }

    public func reset(to entry: [UInt8]?) throws(HALError) {
        try inner.reset(to: entry)
        stall()
    }

    /// The write's own thread blocks, as it would in fsync(2).
    private func stall() {
        let (seconds, attoseconds) = delay.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var left = timespec()
        while nanosleep(&request, &left) != 0, errno == EINTR { request = left }
    }
}
