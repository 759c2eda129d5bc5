import AlarmCore
import Dispatch
import HAL
import LinuxBackends
import Synchronization
import Testing

/// SystemClock's Dispatch timers fire on time: never before their deadline, and late by far less than the
/// button's hold could notice. The bound is generous (20 ms) so a loaded 2-core CI machine cannot make it
/// flake, yet a leeway of the kind Dispatch may apply to a 2 s timer by default (a fraction of the interval,
/// ~100 ms and more) would fail it. Measured figures are printed.
@Suite struct SystemClockTimerTests {
    static let bound = Duration.milliseconds(20)

    /// Schedules every delay at once from one start and returns each timer's lateness (now at fire - deadline),
    /// in the order of `delays`; nil if some timer never fired.
    static func lateness(_ clock: SystemClock, _ delays: [Duration]) -> [Duration]? {
        let late = Mutex([Duration?](repeating: nil, count: delays.count))
        let fired = DispatchSemaphore(value: 0)
        let start = clock.now()
        let tokens = delays.enumerated().map { index, delay in
            let deadline = start + delay
            return clock.schedule(at: deadline) {
                let lateness = clock.now() - deadline
                late.withLock { $0[index] = lateness }
                fired.signal()
            }
        }
        defer { tokens.forEach { $0.cancel() } }
        for _ in delays where fired.wait(timeout: .now() + .seconds(10)) == .timedOut { return nil }
        return late.withLock { $0.compactMap { $0 } }
    }

    static func micros(_ duration: Duration) -> String {
        String(Int((duration.secondsValue * 1_000_000).rounded())) + " µs"
    }

    @Test func fiftyShortTimersAndAHoldLengthOneFireOnTime() throws {
        let clock = SystemClock(queue: DispatchQueue(label: "timer-test"))
        // 50 deadlines spread over 20–200 ms, plus one at the button's 2 s hold.
        let short = (0..<50).map { Duration.microseconds(20_000 + Int64($0) * 180_000 / 49) }
        let hold = Duration.seconds(2)
        guard let late = Self.lateness(clock, short + [hold]) else {
            Issue.record("a timer never fired")
            return
        }
        try #require(late.count == 51)
        let sorted = late.prefix(50).sorted()
        let p50 = sorted[24], p99 = sorted[48], worst = sorted[49]
        print("SystemClock timer lateness over 50 timers of 20–200 ms: p50 \(Self.micros(p50)), p99 \(Self.micros(p99)), max \(Self.micros(worst)); the 2 s timer: \(Self.micros(late[50]))")
        #expect(late.allSatisfy { $0 >= .zero }, "a timer fired before its deadline: \(late)")
        #expect(worst < Self.bound, "p99 \(p99), max \(worst)")
        #expect(late[50] < Self.bound, "the 2 s timer was \(late[50]) late")
    }

    @Test func aCancelledTimerNeverFires() {
        let clock = SystemClock(queue: DispatchQueue(label: "timer-test-cancel"))
        let fired = Mutex(false)
        let token = clock.schedule(after: .milliseconds(30)) { fired.withLock { $0 = true } }
        token.cancel()
        // A later timer on the same queue has run, so the cancelled one had its chance.
        #expect(Self.lateness(clock, [.milliseconds(60)]) != nil)
        #expect(fired.withLock { $0 } == false)
    }
}
