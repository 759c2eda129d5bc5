import HAL
import Synchronization

/// A journal in memory, for tests and simulator runs that need no storage. `failing` makes every write fail as a
/// full card would.
public final class InMemoryJournal: JournalStore {
    let entries = Mutex<[[UInt8]]>([])
    let fail = Mutex(false)

    public init() {}

    public var failing: Bool {
        get { fail.withLock { $0 } }
        set { fail.withLock { $0 = newValue } }
    }

    public var size: Int { entries.withLock { $0.reduce(0) { $0 + $1.count + 12 } } }
    public var count: Int { entries.withLock { $0.count } }

    public func latest() throws(HALError) -> (entry: [UInt8]?, problems: [String]) { (entries.withLock { $0.last }, []) }

    public func append(_ entry: [UInt8]) throws(HALError) {
        if failing { throw HALError(.unavailable, "journal append: storage full") }
        entries.withLock { $0.append(entry) }
    }

    public func reset(to entry: [UInt8]?) throws(HALError) {
        if failing { throw HALError(.unavailable, "journal compaction: storage full") }
        entries.withLock { $0 = entry.map { [$0] } ?? [] }
    }
}
