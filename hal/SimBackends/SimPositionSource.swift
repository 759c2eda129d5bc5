import AlarmCore
import HAL
import Synchronization

public struct SimRoute: Sendable, Hashable {
    public var waypoints: [(latitude: Double, longitude: Double)]
    /// Walking pace by default.
    public var speed: Double = 1.4
    public var accuracy: Double = 6
    /// The receiver starts without a fix for this long (a cold start).
    public var noFixFor: Duration = .zero
    public var idleInterval: Duration = .seconds(30)
    public var alarmInterval: Duration = .seconds(1)

    public init(waypoints: [(latitude: Double, longitude: Double)]) { self.waypoints = waypoints }

    public static func == (a: SimRoute, b: SimRoute) -> Bool {
        a.waypoints.map(\.latitude) == b.waypoints.map(\.latitude)
            && a.waypoints.map(\.longitude) == b.waypoints.map(\.longitude)
            && a.speed == b.speed && a.accuracy == b.accuracy && a.noFixFor == b.noFixFor
            && a.idleInterval == b.idleInterval && a.alarmInterval == b.alarmInterval
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(waypoints.count) }

    /// Position after walking for `elapsed` along the waypoints (stays at the last one).
    public func position(after elapsed: Duration) -> (latitude: Double, longitude: Double)? {
        guard var previous = waypoints.first else { return nil }
        var remaining = elapsed.secondsValue * speed
        for next in waypoints.dropFirst() {
            let a = Fix(latitude: previous.latitude, longitude: previous.longitude, horizontalAccuracy: 0, fixTime: WallTime(millisecondsSince1970: 0))
            let b = Fix(latitude: next.latitude, longitude: next.longitude, horizontalAccuracy: 0, fixTime: WallTime(millisecondsSince1970: 0))
            let length = a.distance(to: b)
            if remaining <= length, length > 0 {
                let t = remaining / length
                return (previous.latitude + (next.latitude - previous.latitude) * t,
                        previous.longitude + (next.longitude - previous.longitude) * t)
            }
            remaining -= length
            previous = next
        }
        return previous
    }
}

/// A GNSS receiver walking a scripted route. Control handle: `setFix`, `dropFix`, `restoreFix`.
public final class SimPositionSource: PositionSourceDevice {
    private struct State {
        var route: SimRoute
        var rate: PositionRate = .idle
        var startedAt: Instant?
        var timer: (any Cancellable)?
        var override: Fix?
        var dropped = false
        var reportedLost = false
    }

    private let clock: any Clock
    private let relay = Relay<PositionUpdate>()
    private let state: Mutex<State>

    public init(clock: any Clock, route: SimRoute) {
        self.clock = clock
        state = Mutex(State(route: route))
    }

    public func start(_ updates: @escaping @Sendable (PositionUpdate) -> Void) throws(HALError) {
        relay.connect(updates)
        state.withLock { $0.startedAt = clock.now() }
        tick()
    }

    public func setRate(_ rate: PositionRate) {
        let changed = state.withLock { state in
            defer { state.rate = rate }
            return state.rate != rate
        }
        if changed { tick() }
    }

    /// Pins the receiver to a position (until `restoreFix`), delivered at once.
    public func setFix(latitude: Double, longitude: Double, accuracy: Double) {
        let fix = Fix(latitude: latitude, longitude: longitude, horizontalAccuracy: accuracy, fixTime: clock.wallTime())
        state.withLock { $0.override = fix; $0.dropped = false }
        relay.emit(.fix(fix))
    }

    /// The receiver loses its fix (tunnel, indoors) until `restoreFix`.
    public func dropFix() {
        state.withLock { $0.dropped = true }
        tick()
    }

    public func restoreFix() {
        state.withLock { $0.dropped = false; $0.override = nil }
        tick()
    }

    private func tick() {
        let now = clock.now()
        let (update, interval): (PositionUpdate?, Duration) = state.withLock { state in
            let interval = state.rate == .alarm ? state.route.alarmInterval : state.route.idleInterval
            guard let startedAt = state.startedAt else { return (nil, interval) }
            let elapsed = now - startedAt
            if state.dropped || elapsed < state.route.noFixFor {
                if state.reportedLost { return (nil, interval) }
                state.reportedLost = true
                return (.lost(nil), interval)
            }
            state.reportedLost = false
            if var fix = state.override {
                fix.fixTime = clock.wallTime()
                return (.fix(fix), interval)
            }
            guard let position = state.route.position(after: elapsed - state.route.noFixFor) else { return (nil, interval) }
            return (.fix(Fix(latitude: position.latitude, longitude: position.longitude,
                             horizontalAccuracy: state.route.accuracy, fixTime: clock.wallTime())), interval)
        }
        if let update { relay.emit(update) }
        let timer = clock.schedule(after: interval) { [self] in tick() }
        state.withLock { $0.timer?.cancel(); $0.timer = timer }
    }
}
