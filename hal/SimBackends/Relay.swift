import Synchronization

/// Holds the sink a backend reports to, set once at start. Sinks are always called
/// outside any backend lock, so a sink may call straight back into the backend.
final class Relay<Value: Sendable>: Sendable {
    private let sink = Mutex<(@Sendable (Value) -> Void)?>(nil)

    func connect(_ newSink: @escaping @Sendable (Value) -> Void) {
        sink.withLock { $0 = newSink }
    }

    func emit(_ value: Value) {
        let current = sink.withLock { $0 }
        current?(value)
    }

    var isConnected: Bool { sink.withLock { $0 != nil } }
}
