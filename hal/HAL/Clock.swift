import AlarmCore

/// The injected clock: the only place the runtime and the backends learn the time.
/// Production uses the system's monotonic clock; tests use a manual one they advance.
public protocol Clock: Sendable {
    /// Monotonic time, for ages, timeouts and ordering.
    func now() -> Instant
    /// Civil UTC time, only for labelling data sent to the centre.
    func wallTime() -> WallTime
    /// Runs `action` once `deadline` has passed, unless cancelled first.
    func schedule(at deadline: Instant, _ action: @escaping @Sendable () -> Void) -> any Cancellable
}

public protocol Cancellable: Sendable {
    func cancel()
}

extension Clock {
    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> any Cancellable {
        schedule(at: now() + delay, action)
    }
}
