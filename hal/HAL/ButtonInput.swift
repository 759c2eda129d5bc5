import AlarmCore

/// The alarm button: press and release edges, each stamped on the injected clock.
public protocol ButtonInput: Sendable {
    func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void) throws(HALError)
}
