/// A point on the device's monotonic timeline. The core never reads a clock:
/// every instant it sees arrives inside an event, which is what makes its
/// behaviour replayable in tests.
public struct Instant: Comparable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Time since an arbitrary origin (boot, or zero in tests).
    public var sinceOrigin: Duration

    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    public static let origin = Instant(sinceOrigin: .zero)

    public static func milliseconds(_ ms: Int64) -> Instant { Instant(sinceOrigin: .milliseconds(ms)) }

    public static func < (a: Instant, b: Instant) -> Bool { a.sinceOrigin < b.sinceOrigin }
    public static func + (a: Instant, d: Duration) -> Instant { Instant(sinceOrigin: a.sinceOrigin + d) }
    public static func - (a: Instant, d: Duration) -> Instant { Instant(sinceOrigin: a.sinceOrigin - d) }
    public static func - (a: Instant, b: Instant) -> Duration { a.sinceOrigin - b.sinceOrigin }

    public var milliseconds: Int64 { sinceOrigin.milliseconds }
    public var description: String { "t+\(milliseconds)ms" }
}

/// Civil UTC time in milliseconds since 1970, as a GNSS receiver or the network states it.
/// Used only to label data for the centre; ordering and ages use `Instant`.
public struct WallTime: Comparable, Hashable, Sendable, Codable {
    public var millisecondsSince1970: Int64
    public init(millisecondsSince1970: Int64) { self.millisecondsSince1970 = millisecondsSince1970 }
    public static func < (a: WallTime, b: WallTime) -> Bool { a.millisecondsSince1970 < b.millisecondsSince1970 }
}

extension Duration {
    /// Whole milliseconds, truncated; what logs, settings and wire formats use.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a Double, for distances and rates.
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
