import AlarmCore
import Synchronization

/// Hands button edges to the runtime's sink, never the same edge twice in a row: a reopened device or a
/// debouncer restarted from a read level must not turn one press into two.
final class EdgeRelay: Sendable {
    private struct State {
        var sink: (@Sendable (ButtonEdge, Instant) -> Void)?
        var last: ButtonEdge?
    }

    private let state = Mutex(State())

    func connect(_ sink: @escaping @Sendable (ButtonEdge, Instant) -> Void) {
        state.withLock { $0.sink = sink }
    }

    /// Called outside any other lock: the sink runs the core on this thread.
    func emit(_ edge: ButtonEdge, at time: Instant) {
        let sink = state.withLock { state -> (@Sendable (ButtonEdge, Instant) -> Void)? in
            guard state.last != edge else { return nil }
            state.last = edge
            return state.sink
        }
        sink?(edge, time)
    }

    /// The device's state as read after a (re)open: an edge, stamped with the time of the read, only if it differs
    /// from the last edge delivered (before any, the button counts as released). A release missed while the device
    /// was gone is delivered, so the next press is not dropped as a repeat; a press missed is delivered, so the
    /// core times its hold; a press held across the outage stays the press already delivered.
    func reconcile(_ current: ButtonEdge, at time: Instant) {
        let sink = state.withLock { state -> (@Sendable (ButtonEdge, Instant) -> Void)? in
            guard (state.last ?? .released) != current else { return nil }
            state.last = current
            return state.sink
        }
        sink?(current, time)
    }
}
