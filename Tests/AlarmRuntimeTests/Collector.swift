import Dispatch
import Synchronization

/// Collects values delivered on other threads; `waitUntil` blocks until a condition holds or a deadline
/// passes. Used only where real sockets are involved: it waits for an event, never for a fixed time.
final class Collector<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    private let signal = DispatchSemaphore(value: 0)

    func append(_ value: Value) {
        values.withLock { $0.append(value) }
        signal.signal()
    }

    var all: [Value] { values.withLock { $0 } }

    @discardableResult
    func waitUntil(seconds: Double = 10, _ condition: ([Value]) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            if condition(all) { return true }
            if signal.wait(timeout: deadline) == .timedOut { return condition(all) }
        }
    }
}
