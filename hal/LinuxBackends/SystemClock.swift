import AlarmCore
import Dispatch
import HAL
import PosixIO

/// The device's clock: CLOCK_MONOTONIC for time, CLOCK_REALTIME only for labels, Dispatch timers
/// (no polling) for deadlines.
public final class SystemClock: Clock {
    private let queue: DispatchQueue

    public init(queue: DispatchQueue = DispatchQueue(label: "alarmd.timers")) { self.queue = queue }

    public func now() -> Instant {
        Instant(sinceOrigin: .nanoseconds(SystemTime.monotonicNanoseconds()))
    }

    public func wallTime() -> WallTime { WallTime(millisecondsSince1970: SystemTime.wallMilliseconds()) }

    public func schedule(at deadline: Instant, _ action: @escaping @Sendable () -> Void) -> any Cancellable {
        let delay = max(deadline - now(), .zero)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .nanoseconds(Int(clamping: delay.nanosecondsValue)))
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
