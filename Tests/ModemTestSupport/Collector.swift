import Dispatch
import Synchronization

/// Values delivered on other threads; `waitUntil` blocks until a condition holds or a deadline passes.
/// It waits for an event, never for a fixed time.
public final class Collector<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    private let signal = DispatchSemaphore(value: 0)
    private let activity: DispatchSemaphore?

    /// `activity`: also signalled on every value, for waiters that watch several sources.
    public init(activity: DispatchSemaphore? = nil) { self.activity = activity }

    public func append(_ value: Value) {
        values.withLock { $0.append(value) }
        signal.signal()
        activity?.signal()
    }

    public var all: [Value] { values.withLock { $0 } }

    @discardableResult
    public func waitUntil(seconds: Double = 5, _ condition: ([Value]) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            if condition(all) { return true }
            if signal.wait(timeout: deadline) == .timedOut { return condition(all) }
        }
    }
}
