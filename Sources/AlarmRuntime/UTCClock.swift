import AlarmCore
import HAL
import Logging
import Synchronization

/// The UTC the device puts on what it sends. The Pi has no real-time clock: after a cold boot the system clock may
/// be 1970 or the last saved time, while encrypted DC-09 frames need a timestamp within seconds of the receiver's.
/// Sources: GNSS fix times, the network's time (NITZ, read with AT+CCLK), and the system clock. Each sample is kept as
/// an offset from the monotonic clock, so ages and jumps of the system clock never matter; a source that disagrees
/// with the others who agree among themselves is ignored, and so is one that claims a time before `earliest`.
public final class UTCClock: Sendable {
    public enum Source: String, Sendable, CaseIterable {
        case gnss, network, system
    }

    struct Sample {
        /// UTC ms minus monotonic ms.
        var offset: Int64
        var at: Instant
    }

    let clock: any Clock
    let logger: Logger
    let earliest: Int64
    let agreement: Int64
    let maximumAge: Duration
    let samples = Mutex<[Source: Sample]>([:])
    let chosen = Mutex<Source?>(nil)

    /// `earliest`: no source before this is believed (firmware build time is a fair choice).
    public init(clock: any Clock, logger: Logger, earliest: WallTime = WallTime(millisecondsSince1970: 1_767_225_600_000),
                agreement: Duration = .seconds(30), maximumAge: Duration = .seconds(86_400)) {
        self.clock = clock
        self.logger = logger
        self.earliest = earliest.millisecondsSince1970
        self.agreement = agreement.milliseconds
        self.maximumAge = maximumAge
    }

    public func observe(_ source: Source, utc: WallTime, at instant: Instant) {
        guard utc.millisecondsSince1970 >= earliest else { return }
        samples.withLock { $0[source] = Sample(offset: utc.millisecondsSince1970 - instant.milliseconds, at: instant) }
    }

    /// The best estimate now, and which source gave it.
    public func now() -> (utc: WallTime, source: Source) {
        let instant = clock.now()
        observe(.system, utc: clock.wallTime(), at: instant)
        let current = samples.withLock { all in all.filter { instant - $0.value.at <= maximumAge } }
        let source = Self.choose(current.mapValues(\.offset), agreement: agreement)
        let previous = chosen.withLock { c -> Source? in
            defer { c = source }
            return c
        }
        if let source, source != previous {
            logger.notice("time source for reports", metadata: ["source": "\(source.rawValue)"])
        }
        guard let source, let sample = current[source] else {
            // Nothing plausible at all: the system clock is all there is (the receiver's NAK will correct it).
            return (clock.wallTime(), .system)
        }
        return (WallTime(millisecondsSince1970: instant.milliseconds + sample.offset), source)
    }

    public var wallTime: WallTime { now().utc }

    /// Majority first: a source that disagrees with two that agree is out. Then GNSS, network, system.
    static func choose(_ offsets: [Source: Int64], agreement: Int64) -> Source? {
        let present = Source.allCases.filter { offsets[$0] != nil }
        func agree(_ a: Source, _ b: Source) -> Bool { abs(offsets[a]! - offsets[b]!) <= agreement }
        var trusted = present
        if present.count >= 3 {
            trusted = present.filter { s in present.contains { $0 != s && agree($0, s) } }
            if trusted.isEmpty { trusted = present }
        }
        return trusted.first
    }
}

/// A position source whose GNSS fix times also set the UTC clock.
struct TimeTappingPositionSource: PositionSourceDevice {
    let inner: any PositionSourceDevice
    let utc: UTCClock
    let clock: any Clock

    func start(_ updates: @escaping @Sendable (PositionUpdate) -> Void) throws(HALError) {
        let utc = self.utc
        let clock = self.clock
        try inner.start { update in
            if case .fix(let fix) = update, fix.source == .gnss { utc.observe(.gnss, utc: fix.fixTime, at: clock.now()) }
            updates(update)
        }
    }

    func setRate(_ rate: PositionRate) { inner.setRate(rate) }
}
