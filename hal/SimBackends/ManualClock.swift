import AlarmCore
import HAL
import Synchronization

/// A clock that moves only when told to. Advancing runs exactly the timers that fall due, in deadline
/// order (ties in scheduling order), on the caller's thread: tests never sleep and never race.
public final class ManualClock: Clock {
    private struct Pending {
        var id: Int
        var deadline: Instant
        var action: @Sendable () -> Void
    }

    private struct State {
        var now: Instant
        var pending: [Pending] = []
        var nextID = 0
    }

    private let state: Mutex<State>
    private let wallOrigin: WallTime

    public init(start: Instant = .origin, wallOrigin: WallTime = WallTime(millisecondsSince1970: 1_795_000_000_000)) {
        state = Mutex(State(now: start))
        self.wallOrigin = wallOrigin
    }

    public func now() -> Instant { state.withLock { $0.now } }

    public func wallTime() -> WallTime {
        WallTime(millisecondsSince1970: wallOrigin.millisecondsSince1970 + now().milliseconds)
    }

    public func schedule(at deadline: Instant, _ action: @escaping @Sendable () -> Void) -> any Cancellable {
        let id = state.withLock { state in
            state.nextID += 1
            state.pending.append(Pending(id: state.nextID, deadline: deadline, action: action))
            return state.nextID
        }
        return Token(clock: self, id: id)
    }

    /// Moves time forward by `duration`, firing every timer due on the way (including timers those timers start).
    public func advance(by duration: Duration = .zero) {
        advance(to: now() + duration)
    }

    public func advance(to target: Instant) {
        while true {
            let due: Pending? = state.withLock { state in
                guard let index = state.pending.indices
                    .filter({ state.pending[$0].deadline <= target })
                    .min(by: { (state.pending[$0].deadline, state.pending[$0].id) < (state.pending[$1].deadline, state.pending[$1].id) })
                else {
                    if state.now < target { state.now = target }
                    return nil
                }
                let timer = state.pending.remove(at: index)
                if state.now < timer.deadline { state.now = timer.deadline }
                return timer
            }
            guard let due else { return }
            due.action()
        }
    }

    /// Number of timers waiting; lets tests check that nothing is left running.
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    fileprivate func cancel(_ id: Int) {
        state.withLock { $0.pending.removeAll { $0.id == id } }
    }

    private struct Token: Cancellable {
        let clock: ManualClock
        let id: Int
        func cancel() { clock.cancel(id) }
    }
}
