import AlarmCore
import Dispatch
import HAL
import Logging
import PosixIO
import Synchronization

/// The UTC the device puts on what it sends. The Pi has no real-time clock: after a cold boot the system clock may
/// be 1970 or the last saved time, while encrypted DC-09 frames need a timestamp within seconds of the receiver's.
/// Sources: GNSS fix times, the network's time (NITZ, read with AT+CCLK), and the system clock with the kernel's
/// verdict on it (NTP-synchronised or not). Each sample is kept as an offset from the monotonic clock, so ages and
/// jumps of the system clock never matter.
///
/// No single source can drag the clock years away: every sample is judged against a plausible window before it
/// votes (`decide`, a pure function; docs/time.md). The floor is the firmware's build date or the last trusted time
/// persisted, whichever is later; the ceiling is the floor plus `plausibleSpan` (10 years). A GNSS date outside the
/// window is corrected by ±1024 weeks when that lands inside (a week-rollover error), else set aside; a modem clock at
/// its unsynchronised default (2004-01-01, 1980-01-06, …) is set aside.
public final class UTCClock: Sendable {
    public enum Source: String, Sendable, CaseIterable, Codable {
        case gnss, network, system
    }

    /// One source's reading, projected to the instant of the decision.
    public struct Observation: Sendable, Hashable {
        /// UTC ms at the decision instant.
        public var utc: Int64
        /// For `.system` only: the kernel's verdict (`adjtimex`).
        public var kernel: KernelClockStatus
        public init(utc: Int64, kernel: KernelClockStatus = .unknown) {
            self.utc = utc
            self.kernel = kernel
        }
    }

    /// How one source was judged against the plausible window.
    public enum Verdict: Sendable, Hashable {
        case plausible
        /// Outside the window, inside after adding this many weeks (±1024: a GPS week-rollover error).
        case corrected(weeks: Int)
        /// Outside the window, and no correction lands inside.
        case outsideWindow
        /// A modem clock still at its power-on default (no network time): the default's date.
        case modemDefault(String)

        public var isUsable: Bool {
            switch self {
            case .plausible, .corrected: true
            case .outsideWindow, .modemDefault: false
            }
        }
    }

    public struct Window: Sendable, Hashable {
        public var floor: Int64
        public var ceiling: Int64
        public init(floor: Int64, ceiling: Int64) {
            self.floor = floor
            self.ceiling = ceiling
        }
        public func contains(_ utc: Int64) -> Bool { utc >= floor && utc <= ceiling }
    }

    public struct Judged: Sendable, Hashable {
        public var source: Source
        /// What the source said (at the decision instant).
        public var observed: Int64
        /// After correction.
        public var utc: Int64
        public var verdict: Verdict
        public var kernel: KernelClockStatus
    }

    /// The outcome: the chosen source (nil: nothing plausible), its UTC, and one reason per source present.
    public struct Decision: Sendable, Hashable {
        public var chosen: Source?
        public var utc: Int64?
        public var judged: [Source: Judged]
        public var reasons: [Source: String]
        /// The chosen source is trustworthy enough to persist as the next floor (not an unsynchronised system clock).
        public var trusted: Bool
    }

    static let weekMilliseconds: Int64 = 7 * 86_400_000
    /// A GPS week-number rollover: 1024 weeks, about 19.6 years.
    public static let rolloverMilliseconds: Int64 = 1024 * weekMilliseconds
    /// Ceiling = floor + this. Must stay under 1024 weeks (19.6 years) so that a date 1024 weeks late is always outside
    /// and at most one of x, x ± 1024 weeks can land inside (the correction is unambiguous); 10 years leaves a margin on
    /// both sides and covers a device that stays off (the floor not moving) for up to 10 years after its firmware.
    public static let plausibleSpan: Int64 = 3653 * 86_400_000
    /// The firmware's build date (no source before it is believed): 2026-01-01. Raise it with each release.
    public static let buildDate = WallTime(millisecondsSince1970: 1_767_225_600_000)
    /// Power-on defaults of modem clocks without network time (Quectel 2004-01-01, SIMCom/GPS epoch 1980-01-06,
    /// others 2000-01-01 or the Unix epoch): a reading within a year after one is that default still ticking.
    static let modemDefaults: [(String, Int64)] = [
        ("2004-01-01", 1_072_915_200_000), ("1980-01-06", 315_964_800_000),
        ("2000-01-01", 946_684_800_000), ("1970-01-01", 0),
    ]
    /// The record holding the last trusted UTC (decimal ms), written at most once an hour.
    public static let lastTrustedRecord = "last-trusted-time"
    public static let persistInterval: Duration = .seconds(3600)

    /// Judges one reading against the window.
    public static func judge(_ source: Source, _ utc: Int64, window: Window) -> (verdict: Verdict, utc: Int64) {
        if window.contains(utc) { return (.plausible, utc) }
        if source == .network, let known = modemDefaults.first(where: { utc >= $0.1 && utc - $0.1 < 366 * 86_400_000 }) {
            return (.modemDefault(known.0), utc)
        }
        if source == .gnss {
            for weeks in [-1024, 1024] where window.contains(utc + Int64(weeks) * weekMilliseconds) {
                return (.corrected(weeks: weeks), utc + Int64(weeks) * weekMilliseconds)
            }
        }
        return (.outsideWindow, utc)
    }

    /// The pure decision. Implausible readings never vote. Among the rest: with three, one that agrees with neither
    /// other is out (majority); then priority: the NTP-synchronised system clock, GNSS, the network, a GNSS date that
    /// needed a rollover correction, the unsynchronised system clock. So of two that disagree with no third to break
    /// the tie, the one that broke the window (a corrected receiver date) never wins over one that did not, and an
    /// unsynchronised system clock loses to any other plausible source.
    public static func decide(_ observations: [Source: Observation], window: Window, agreement: Int64) -> Decision {
        var judged: [Source: Judged] = [:]
        for (source, observation) in observations {
            let (verdict, utc) = judge(source, observation.utc, window: window)
            judged[source] = Judged(source: source, observed: observation.utc, utc: utc, verdict: verdict,
                                    kernel: source == .system ? observation.kernel : .unknown)
        }
        func rank(_ j: Judged) -> Int {
            switch (j.source, j.verdict) {
            case (.system, _) where j.kernel == .synchronised: 0
            case (.gnss, .plausible): 1
            case (.network, _): 2
            case (.gnss, _): 3
            case (.system, _): 4
            }
        }
        let usable = Source.allCases.compactMap { judged[$0] }.filter { $0.verdict.isUsable }
        func agree(_ a: Judged, _ b: Judged) -> Bool { abs(a.utc - b.utc) <= agreement }
        var voting = usable
        var outvoted: [Source] = []
        if usable.count >= 3 {
            let majority = usable.filter { s in usable.contains { $0.source != s.source && agree($0, s) } }
            if !majority.isEmpty {
                outvoted = usable.filter { s in !majority.contains { $0.source == s.source } }.map(\.source)
                voting = majority
            }
        }
        let chosen = voting.min { rank($0) < rank($1) }

        var reasons: [Source: String] = [:]
        for j in judged.values {
            let said = day(j.observed)
            var text = switch j.verdict {
            case .modemDefault(let date): "set aside: modem default clock \(date) (no network time)"
            case .outsideWindow:
                "set aside: outside the plausible window ("
                    + (j.observed < window.floor ? "\(said) < floor \(day(window.floor))" : "\(said) > ceiling \(day(window.ceiling))") + ")"
            case .corrected(let weeks): "receiver said \(said), corrected by \(weeks > 0 ? "+" : "−")\(abs(weeks)) weeks"
            case .plausible: ""
            }
            if j.verdict.isUsable {
                let prefix: String
                if j.source == chosen?.source {
                    prefix = "chosen"
                } else if outvoted.contains(j.source) {
                    prefix = "set aside: disagrees with the other two (by \(abs(j.utc - (chosen?.utc ?? j.utc)) / 1000) s)"
                } else if let chosen, agree(j, chosen) {
                    prefix = "agrees (\(signedSeconds(j.utc - chosen.utc)))"
                } else if let chosen {
                    prefix = "not followed: differs by \(signedSeconds(j.utc - chosen.utc)), \(chosen.source.rawValue) ranks first"
                } else {
                    prefix = "not followed"
                }
                text = text.isEmpty ? prefix : prefix + "; " + text
            }
            if j.source == .system { text += "; kernel: \(j.kernel)" }
            reasons[j.source] = text
        }
        let trusted = chosen.map { !($0.source == .system && $0.kernel != .synchronised) } ?? false
        return Decision(chosen: chosen?.source, utc: chosen?.utc, judged: judged, reasons: reasons, trusted: trusted)
    }

    static func day(_ ms: Int64) -> String { String(CivilTime(millisecondsSince1970: ms).iso8601.prefix(10)) }
    static func signedSeconds(_ ms: Int64) -> String {
        let tenths = abs(ms) / 100
        return (ms < 0 ? "−" : "+") + "\(tenths / 10).\(tenths % 10) s"
    }

    struct Sample {
        /// UTC ms minus monotonic ms.
        var offset: Int64
        var at: Instant
    }

    struct State {
        var samples: [Source: Sample] = [:]
        var chosen: Source?
        var lastDecision: Decision?
        var lastTrusted: Int64?
        var store: (any RecordStore)?
        var persistedAt: Instant?
        var receiverTroubleReported = false
        var onReceiverTimeTrouble: (@Sendable (String) -> Void)?
    }

    let clock: any Clock
    let logger: Logger
    let buildFloor: Int64
    let agreement: Int64
    let maximumAge: Duration
    let kernel: @Sendable () -> KernelClockStatus
    let state = Mutex(State())
    let persistQueue = DispatchQueue(label: "alarmd.utc-persist")

    /// `earliest`: the firmware's build date, the floor before any trusted time was persisted.
    /// `kernel`: the kernel's verdict on the system clock (`KernelClock.status` on the device; tests inject one).
    public init(clock: any Clock, logger: Logger, earliest: WallTime = UTCClock.buildDate,
                agreement: Duration = .seconds(30), maximumAge: Duration = .seconds(86_400),
                kernel: @escaping @Sendable () -> KernelClockStatus = { .unknown }) {
        self.clock = clock
        self.logger = logger
        self.buildFloor = earliest.millisecondsSince1970
        self.agreement = agreement.milliseconds
        self.maximumAge = maximumAge
        self.kernel = kernel
    }

    /// The plausible window now.
    public var window: Window {
        let floor = max(buildFloor, state.withLock { $0.lastTrusted } ?? buildFloor)
        return Window(floor: floor, ceiling: floor + Self.plausibleSpan)
    }

    /// Restores the last trusted time from `store` (it raises the floor) and persists it there from now on.
    public func attach(store: any RecordStore) {
        var restored: Int64?
        do {
            if let bytes = try store.load(Self.lastTrustedRecord),
               let value = Int64(String(decoding: bytes, as: UTF8.self)), value > 0 {
                restored = value
            }
        } catch {
            logger.warning("could not read the last trusted time", metadata: ["error": "\(error)"])
        }
        state.withLock {
            $0.store = store
            if let restored { $0.lastTrusted = max($0.lastTrusted ?? 0, restored) }
        }
        if let restored {
            logger.info("last trusted time restored", metadata: ["utc": "\(CivilTime(millisecondsSince1970: restored).iso8601)"])
        }
    }

    /// Called (once per process) when the receiver's date is implausible, with the reason.
    public func onReceiverTimeTrouble(_ handler: @escaping @Sendable (String) -> Void) {
        state.withLock { $0.onReceiverTimeTrouble = handler }
    }

    public func observe(_ source: Source, utc: WallTime, at instant: Instant) {
        state.withLock { $0.samples[source] = Sample(offset: utc.millisecondsSince1970 - instant.milliseconds, at: instant) }
    }

    /// A GNSS receiver's date: kept as the `.gnss` sample and judged now. An implausible date (corrected or set aside)
    /// is reported once through `onReceiverTimeTrouble`.
    @discardableResult
    public func observeReceiver(utc: WallTime, at instant: Instant) -> Verdict {
        observe(.gnss, utc: utc, at: instant)
        let age = clock.now() - instant
        let (verdict, _) = Self.judge(.gnss, utc.millisecondsSince1970 + age.milliseconds, window: window)
        guard verdict != .plausible else { return verdict }
        let reason = switch verdict {
        case .corrected(let weeks): "receiver date \(Self.day(utc.millisecondsSince1970)) is \(abs(weeks)) weeks "
            + (weeks < 0 ? "late" : "early") + " (corrected)"
        default: "receiver date \(Self.day(utc.millisecondsSince1970)) is outside the plausible window (ignored)"
        }
        let handler = state.withLock { s -> (@Sendable (String) -> Void)? in
            guard !s.receiverTroubleReported else { return nil }
            s.receiverTroubleReported = true
            return s.onReceiverTimeTrouble
        }
        if let handler {
            logger.warning("GNSS receiver's date is wrong", metadata: ["reason": "\(reason)"])
            handler(reason)
        }
        return verdict
    }

    /// The decision at this instant from the samples held (the system clock sampled now).
    public func decision() -> Decision {
        let instant = clock.now()
        let systemUTC = clock.wallTime().millisecondsSince1970
        let kernelStatus = kernel()
        let (samples, window) = state.withLock { s in
            (s.samples.filter { instant - $0.value.at <= maximumAge }, s.lastTrusted)
        }
        let floor = max(buildFloor, window ?? buildFloor)
        var observations = samples.mapValues { Observation(utc: instant.milliseconds + $0.offset) }
        observations[.system] = Observation(utc: systemUTC, kernel: kernelStatus)
        return Self.decide(observations, window: Window(floor: floor, ceiling: floor + Self.plausibleSpan), agreement: agreement)
    }

    /// The best estimate now, and which source gave it.
    public func now() -> (utc: WallTime, source: Source) {
        let instant = clock.now()
        let decision = decision()
        let previous = state.withLock { s -> Source? in
            defer { s.chosen = decision.chosen; s.lastDecision = decision }
            return s.chosen
        }
        if decision.chosen != previous {
            var metadata: Logger.Metadata = ["source": "\(decision.chosen?.rawValue ?? "none")"]
            for (source, reason) in decision.reasons { metadata[source.rawValue] = "\(reason)" }
            logger.notice("time source for reports", metadata: metadata)
        }
        guard let source = decision.chosen, let utc = decision.utc else {
            // Nothing plausible at all: the system clock is all there is (the receiver's NAK may correct it).
            return (clock.wallTime(), .system)
        }
        if decision.trusted { persistIfDue(utc, at: instant) }
        return (WallTime(millisecondsSince1970: utc), source)
    }

    /// The device's UTC at an earlier (monotonic) instant: now minus the age.
    public func utc(at instant: Instant) -> WallTime {
        let now = self.now().utc
        return WallTime(millisecondsSince1970: now.millisecondsSince1970 - (clock.now() - instant).milliseconds)
    }

    public var wallTime: WallTime { now().utc }

    /// The lines `alarmctl status` shows: the chosen source, the window and why each source was or was not used.
    public func statusLines() -> [String] {
        let decision = decision()
        let window = self.window
        var lines: [String] = []
        if let chosen = decision.chosen, let utc = decision.utc {
            lines.append("\(CivilTime(millisecondsSince1970: utc).iso8601) from \(chosen.rawValue)")
        } else {
            lines.append("no plausible source: system clock \(CivilTime(millisecondsSince1970: clock.wallTime().millisecondsSince1970).iso8601)")
        }
        let floorOrigin = window.floor > buildFloor ? "last trusted time" : "firmware build date"
        lines.append("window \(Self.day(window.floor)) (\(floorOrigin)) … \(Self.day(window.ceiling))")
        for source in Source.allCases {
            lines.append("\(source.rawValue): " + (decision.reasons[source] ?? "no sample"))
        }
        return lines
    }

    private func persistIfDue(_ utc: Int64, at instant: Instant) {
        let store = state.withLock { s -> (any RecordStore)? in
            guard let store = s.store else { return nil }
            if let at = s.persistedAt, instant - at < Self.persistInterval { return nil }
            s.persistedAt = instant
            return store
        }
        guard let store else { return }
        let logger = self.logger
        persistQueue.async {
            do {
                try store.save(Self.lastTrustedRecord, Array(String(utc).utf8))
            } catch {
                logger.error("could not persist the last trusted time", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits until the last trusted time decided so far is written (tests).
    public func flushPersistence() { persistQueue.sync {} }
}

/// A position source whose GNSS fix times also set the UTC clock, and whose fixes leave dated by the device: the fix
/// time becomes the device's UTC at the instant the fix arrived, never the receiver's date copied through.
public struct TimeTappingPositionSource: PositionSourceDevice {
    let inner: any PositionSourceDevice
    let utc: UTCClock
    let clock: any Clock

    public init(inner: any PositionSourceDevice, utc: UTCClock, clock: any Clock) {
        self.inner = inner
        self.utc = utc
        self.clock = clock
    }

    public func start(_ updates: @escaping @Sendable (PositionUpdate) -> Void) throws(HALError) {
        let utc = self.utc
        let clock = self.clock
        try inner.start { update in
            guard case .fix(var fix) = update, fix.source == .gnss else {
                updates(update)
                return
            }
            let instant = clock.now()
            // A fix stamped with the device's own clock (gpsd before it knows the date, a simulated source) carries no
            // receiver date to judge.
            if abs(fix.fixTime.millisecondsSince1970 - clock.wallTime().millisecondsSince1970) > 1_000 {
                utc.observeReceiver(utc: fix.fixTime, at: instant)
            }
            fix.fixTime = utc.utc(at: instant)
            updates(.fix(fix))
        }
    }

    public func setRate(_ rate: PositionRate) { inner.setRate(rate) }
}
