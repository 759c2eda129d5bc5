import AlarmCore

/// The alarm button: press and release edges, each stamped on the injected clock.
public protocol ButtonInput: Sendable {
    func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void) throws(HALError)
}

/// What a supervised button backend says about its device.
public enum ButtonDeviceHealth: Sendable, Hashable {
    /// The first open succeeded.
    case opened
    /// The device vanished (or could not be opened at all); the backend keeps reopening it.
    case lost(reason: String)
    /// Open again after being lost.
    case reopened
}

/// A button whose device can vanish and come back (an input device, a GPIO chip, the simulator's): besides its
/// edges it reports its health, so a button that can no longer raise an alarm becomes a trouble report.
///
/// A protocol of its own rather than a second requirement of `ButtonInput`: a button that cannot lose its device
/// (a test double) stays a one-method conformer, and the runtime asks `as? any SupervisedButtonInput`. A backend
/// that wraps another button must conform too and pass the health on, or the wrapped button's health is lost.
/// After every (re)open the backend reads the device's current state and delivers an edge if it differs from the
/// last one delivered (stamped with the time of the read), so an edge missed while the device was gone neither
/// swallows the next press nor loses a press held across the outage.
public protocol SupervisedButtonInput: ButtonInput {
    /// `health`: each change, with the instant on the injected clock. `opened` or `lost` comes first.
    func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void,
               health: @escaping @Sendable (ButtonDeviceHealth, Instant) -> Void) throws(HALError)
}

extension SupervisedButtonInput {
    public func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void) throws(HALError) {
        try start(edges, health: { _, _ in })
    }
}
