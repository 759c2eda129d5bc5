import AlarmCore
import Dispatch
import HAL
import PosixIO

/// The device's clock: CLOCK_MONOTONIC for time, CLOCK_REALTIME only for labels, Dispatch timers
/// (no polling) for deadlines.
///
/// Every timer is given an explicit, small leeway: the button's 2 s hold must fire on time, and a
/// timer may be delayed by up to its leeway to be coalesced with others.
public final class SystemClock: Clock {
    /// How late Dispatch may fire a timer to batch it with others (a tenth of a millisecond).
    public static let defaultLeeway = Duration.microseconds(100)

    private let queue: DispatchQueue
    private let leeway: DispatchTimeInterval

    /// `leeway`: at most `defaultLeeway` in the firmware; tests use larger ones to show they would notice.
    public init(queue: DispatchQueue = DispatchQueue(label: "alarmd.timers"), leeway: Duration = SystemClock.defaultLeeway) {
        self.queue = queue
        self.leeway = .nanoseconds(Int(clamping: max(leeway, .zero).nanosecondsValue))
    }

    public func now() -> Instant {
        Instant(sinceOrigin: .nanoseconds(SystemTime.monotonicNanoseconds()))
    }

    public func wallTime() -> WallTime { WallTime(millisecondsSince1970: SystemTime.wallMilliseconds()) }

    public func schedule(at deadline: Instant, _ action: @escaping @Sendable () -> Void) -> any Cancellable {
        let delay = max(deadline - now(), .zero)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .nanoseconds(Int(clamping: delay.nanosecondsValue)), leeway: leeway)
        timer.setEventHandler {
            timer.cancel()
            action()
        }
        timer.resume()
        return DispatchTimerToken(timer: timer)
    }
}

private struct DispatchTimerToken: Cancellable, @unchecked Sendable {
    // DispatchSourceTimer is thread-safe to cancel; it is only not marked Sendable.
    let timer: any DispatchSourceTimer
    func cancel() { timer.cancel() }
}

extension Duration {
    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}
