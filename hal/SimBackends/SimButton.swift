import AlarmCore
import HAL

/// The simulated alarm button. Control handle: `press`, `release`, `press(holding:)`.
public final class SimButton: ButtonInput {
    private let clock: any Clock
    private let relay = Relay<(ButtonEdge, Instant)>()

    public init(clock: any Clock) { self.clock = clock }

    public func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void) throws(HALError) {
        relay.connect(edges)
    }

    public func press() { relay.emit((.pressed, clock.now())) }
    public func release() { relay.emit((.released, clock.now())) }

    /// Presses now and releases after `duration` on the injected clock.
    public func press(holding duration: Duration) {
        press()
        _ = clock.schedule(after: duration) { [self] in release() }
    }
}
