import AlarmCore
import BoardIO
import Testing

/// The software debounce on raw-edge timestamps: an edge only after the level held for the period.
@Suite struct DebouncerTests {
    static let period = Duration.milliseconds(30)

    /// Feeds raw edges (ms, level), then settles at `end`; returns the accepted levels with the time each was
    /// learned (the edge that proved it, or the settle).
    func run(_ raw: [(Int64, Bool)], settleAt end: Int64, initiallyActive: Bool = false) -> [(Bool, Int64)] {
        var debouncer = Debouncer(period: Self.period, initiallyActive: initiallyActive)
        var accepted: [(Bool, Int64)] = []
        for (ms, level) in raw {
            if let level = debouncer.observe(active: level, at: .milliseconds(ms)) { accepted.append((level, ms)) }
        }
        if let level = debouncer.settle(at: .milliseconds(end)) { accepted.append((level, end)) }
        return accepted
    }

    @Test func chatterShorterThanThePeriodGivesOneEdge() {
        // Contact bounce on press: five changes inside 6 ms, then held.
        let result = run([(1000, true), (1002, false), (1003, true), (1005, false), (1006, true)], settleAt: 2000)
        #expect(result.map(\.0) == [true])
    }

    @Test func theEdgeComesWhenTheLevelHasHeldForThePeriodNotBefore() {
        var debouncer = Debouncer(period: Self.period)
        #expect(debouncer.observe(active: true, at: .milliseconds(1000)) == nil)
        #expect(debouncer.observe(active: false, at: .milliseconds(1004)) == nil)
        #expect(debouncer.observe(active: true, at: .milliseconds(1010)) == nil)
        #expect(debouncer.deadline == .milliseconds(1040))
        #expect(debouncer.settle(at: .milliseconds(1039)) == nil)
        #expect(debouncer.accepted == false)
        #expect(debouncer.settle(at: .milliseconds(1040)) == true)
        #expect(debouncer.accepted == true)
        #expect(debouncer.deadline == nil)
        // Nothing more to accept.
        #expect(debouncer.settle(at: .milliseconds(5000)) == nil)
    }

    @Test func aGlitchShorterThanThePeriodIsNoEdgeAtAll() {
        #expect(run([(1000, true), (1012, false)], settleAt: 9000).isEmpty)
        // Same while pressed: a 20 ms dropout is not a release.
        #expect(run([(1000, false), (1020, true)], settleAt: 9000, initiallyActive: true).isEmpty)
    }

    @Test func aNextEdgeLateEnoughProvesTheLevelHeld() {
        // A 50 ms press read in one go: the release's timestamp proves the press held; the release itself
        // still has to hold.
        var debouncer = Debouncer(period: Self.period)
        #expect(debouncer.observe(active: true, at: .milliseconds(1000)) == nil)
        #expect(debouncer.observe(active: false, at: .milliseconds(1050)) == true)
        #expect(debouncer.deadline == .milliseconds(1080))
        #expect(debouncer.settle(at: .milliseconds(1080)) == false)
    }

    @Test func pressAndReleaseWithBounceEachGiveOneEdge() {
        let raw: [(Int64, Bool)] = [
            (1000, true), (1001, false), (1002, true),            // press bounce
            (3000, false), (3003, true), (3004, false), (3009, true), (3011, false),  // release bounce
        ]
        let result = run(raw, settleAt: 4000)
        #expect(result.map(\.0) == [true, false])
        // The press is proven by the first release edge (held 1002 → 3000); the release settles at the end.
        #expect(result.map(\.1) == [3000, 4000])
    }

    @Test func repeatedSameLevelEventsDoNotRestartTheWait() {
        var debouncer = Debouncer(period: Self.period)
        _ = debouncer.observe(active: true, at: .milliseconds(1000))
        _ = debouncer.observe(active: true, at: .milliseconds(1020))
        #expect(debouncer.deadline == .milliseconds(1030))
    }

    @Test func timeGoingBackwardsIsTreatedAsNow() {
        var debouncer = Debouncer(period: Self.period)
        _ = debouncer.observe(active: true, at: .milliseconds(1000))
        _ = debouncer.observe(active: false, at: .milliseconds(500))
        _ = debouncer.observe(active: true, at: .milliseconds(1001))
        #expect(debouncer.deadline == .milliseconds(1031))
    }
}
