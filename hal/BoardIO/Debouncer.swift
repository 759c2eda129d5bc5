import AlarmCore

/// Software debounce of one digital input, on the timestamps of its raw edges (pure: tests feed it times).
///
/// A level is accepted only once it has held for `period`: chatter shorter than that never produces an edge,
/// and a clean change produces exactly one, `period` after it happened. Two ways to learn that a level held:
/// the next raw edge arriving at least `period` later (`observe`), or time passing with no edge (`settle`).
public struct Debouncer: Sendable {
    public let period: Duration
    /// The level last accepted (true: active, i.e. pressed).
    public private(set) var accepted: Bool
    /// When the accepted level began: the raw edge that started it (nil for the initial level). The time to
    /// stamp the debounced edge with, so the debounce delays an edge's delivery but not its time.
    public private(set) var acceptedSince: Instant?
    /// A level that differs from `accepted`, and since when it has held.
    private var candidate: (active: Bool, since: Instant)?
    private var latest: Instant?

    public init(period: Duration, initiallyActive: Bool = false) {
        self.period = period
        accepted = initiallyActive
    }

    /// When the pending level will have held long enough, if nothing changes before then.
    public var deadline: Instant? { candidate.map { $0.since + period } }

    /// A raw edge to `active` at `time`. Returns the level accepted on the way (the previous candidate, if it
    /// held for `period` before this edge), or nil.
    public mutating func observe(active: Bool, at time: Instant) -> Bool? {
        // Timestamps of one line are monotonic; a stale one (a reordered relay) is treated as "now".
        let time = max(time, latest ?? time)
        latest = time
        let settled = settle(at: time)
        if let candidate, candidate.active == active { return settled }
        candidate = active == accepted ? nil : (active, time)
        return settled
    }

    /// Time has reached `time` with no further raw edge: accepts the candidate if it has held for `period`.
    public mutating func settle(at time: Instant) -> Bool? {
        guard let pending = candidate, time - pending.since >= period else { return nil }
        accepted = pending.active
        acceptedSince = pending.since
        candidate = nil
        return accepted
    }
}
