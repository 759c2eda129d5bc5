import AlarmCore
import HAL
import Synchronization

/// The simulated alarm button. Control handle: `press`, `release`, `press(holding:)`, and `loseDevice` /
/// `restoreDevice` for a button whose device vanishes and comes back. While the device is lost, presses and
/// releases change only the physical button; on its return the state is read back as the real backends do, and an
/// edge is delivered if it differs from the last one delivered.
public final class SimButton: SupervisedButtonInput {
    private struct State {
        var held = false
        var lost = false
        /// What the runtime last heard (nil: nothing yet, i.e. released).
        var delivered: ButtonEdge?
    }

    private let clock: any Clock
    private let relay = Relay<(ButtonEdge, Instant)>()
    private let healthRelay = Relay<(ButtonDeviceHealth, Instant)>()
    private let state = Mutex(State())

    public init(clock: any Clock) { self.clock = clock }

    public func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void,
                      health: @escaping @Sendable (ButtonDeviceHealth, Instant) -> Void) throws(HALError) {
        relay.connect(edges)
        healthRelay.connect(health)
        let lost = state.withLock { $0.lost }
        healthRelay.emit((lost ? .lost(reason: "simulated: no button device") : .opened, clock.now()))
    }

    public func press() { physically(.pressed) }
    public func release() { physically(.released) }

    /// Presses now and releases after `duration` on the injected clock.
    public func press(holding duration: Duration) {
        press()
        _ = clock.schedule(after: duration) { [self] in release() }
    }

    /// The button's device vanishes (unplugged, its driver unbound).
    public func loseDevice() {
        let changed = state.withLock { state -> Bool in
            defer { state.lost = true }
            return !state.lost
        }
        if changed { healthRelay.emit((.lost(reason: "simulated: device removed"), clock.now())) }
    }

    /// The device is back: reported, then its state is read and an edge delivered if it differs.
    public func restoreDevice() {
        let changed = state.withLock { state -> Bool in
            defer { state.lost = false }
            return state.lost
        }
        guard changed else { return }
        let now = clock.now()
        healthRelay.emit((.reopened, now))
        let missed = state.withLock { state -> ButtonEdge? in
            let current: ButtonEdge = state.held ? .pressed : .released
            guard (state.delivered ?? .released) != current else { return nil }
            state.delivered = current
            return current
        }
        if let missed { relay.emit((missed, now)) }
    }

    public var isDeviceLost: Bool { state.withLock { $0.lost } }

    private func physically(_ edge: ButtonEdge) {
        let deliver = state.withLock { state -> Bool in
            state.held = edge == .pressed
            guard !state.lost else { return false }
            state.delivered = edge
            return true
        }
        if deliver { relay.emit((edge, clock.now())) }
    }
}
