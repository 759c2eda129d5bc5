import AlarmCore
import AlarmRuntime
import Logging
import ModemTestSupport
import SimBackends
import HAL
import PosixIO
import Synchronization
import Testing

/// Which UTC the device stamps on reports, from GNSS, the network and its own clock.
@Suite struct UTCClockTests {
    let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
    let truth: Int64 = 1_795_000_000_000  // 2026-11-19

    func make(systemAt wall: Int64) -> (ManualClock, UTCClock) {
        let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: wall))
        return (clock, UTCClock(clock: clock, logger: logger))
    }

    @Test func coldBootWithoutRTCTakesTheNetworksTime() {
        let (clock, utc) = make(systemAt: 0)  // 1970: no RTC, nothing saved
        clock.advance(by: .seconds(5))
        utc.observe(.network, utc: WallTime(millisecondsSince1970: truth), at: clock.now())
        clock.advance(by: .seconds(10))
        let now = utc.now()
        #expect(now.source == .network)
        #expect(now.utc.millisecondsSince1970 == truth + 10_000, "ages run on the monotonic clock")
    }

    @Test func gnssIsPreferredWhenEveryoneAgrees() {
        let (clock, utc) = make(systemAt: truth)
        utc.observe(.network, utc: WallTime(millisecondsSince1970: truth + 2_000), at: clock.now())
        utc.observe(.gnss, utc: WallTime(millisecondsSince1970: truth + 300), at: clock.now())
        #expect(utc.now() == (WallTime(millisecondsSince1970: truth + 300), .gnss))
    }

    @Test func aSourceThatDisagreesWithTheOtherTwoIsIgnored() {
        let (clock, utc) = make(systemAt: truth)
        utc.observe(.network, utc: WallTime(millisecondsSince1970: truth + 1_000), at: clock.now())
        // A spoofed or confused receiver a day off.
        utc.observe(.gnss, utc: WallTime(millisecondsSince1970: truth + 86_400_000), at: clock.now())
        #expect(utc.now().source == .network)
        // A network that is wrong while GNSS and the system clock agree.
        let (clock2, utc2) = make(systemAt: truth)
        utc2.observe(.network, utc: WallTime(millisecondsSince1970: truth - 3_600_000), at: clock2.now())
        utc2.observe(.gnss, utc: WallTime(millisecondsSince1970: truth + 500), at: clock2.now())
        #expect(utc2.now().source == .gnss)
    }

    @Test func timesBeforeTheFirmwareAreNeverBelieved() {
        let (clock, utc) = make(systemAt: truth)
        // A modem clock left at the GPS epoch after boot.
        utc.observe(.network, utc: WallTime(millisecondsSince1970: 315_964_800_000), at: clock.now())
        #expect(utc.now().source == .system)
    }

    @Test func oldSamplesExpire() {
        let (clock, utc) = make(systemAt: 0)
        utc.observe(.gnss, utc: WallTime(millisecondsSince1970: truth), at: clock.now())
        clock.advance(by: .seconds(86_401))
        #expect(utc.now().source == .system)  // nothing plausible left: the system clock, and the receiver's NAK
    }
}

/// The plausibility window, the kernel's verdict, rollover corrections and modem defaults (docs/time.md).
@Suite struct UTCClockPlausibilityTests {
    let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
    let truth: Int64 = 1_796_601_600_000  // 2026-12-07T00:00:00Z
    let rollover = UTCClock.rolloverMilliseconds
    let quectelDefault: Int64 = 1_072_915_200_000  // 2004-01-01
    let gpsEpoch: Int64 = 315_964_800_000  // 1980-01-06

    func make(systemAt wall: Int64, kernel: KernelClockStatus = .unsynchronised) -> (ManualClock, UTCClock) {
        let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: wall))
        return (clock, UTCClock(clock: clock, logger: logger, kernel: { kernel }))
    }

    func at(_ ms: Int64) -> WallTime { WallTime(millisecondsSince1970: ms) }

    // MARK: The pure decision

    var window: UTCClock.Window {
        let floor = UTCClock.buildDate.millisecondsSince1970
        return .init(floor: floor, ceiling: floor + UTCClock.plausibleSpan)
    }

    func decide(gnss: Int64? = nil, network: Int64? = nil, system: Int64? = nil,
                kernel: KernelClockStatus = .unsynchronised) -> UTCClock.Decision {
        var o: [UTCClock.Source: UTCClock.Observation] = [:]
        if let gnss { o[.gnss] = .init(utc: gnss) }
        if let network { o[.network] = .init(utc: network) }
        if let system { o[.system] = .init(utc: system, kernel: kernel) }
        return UTCClock.decide(o, window: window, agreement: 30_000)
    }

    @Test func theWindowRejectsADate1024WeeksLateFromAnyFloor() {
        #expect(UTCClock.plausibleSpan < rollover, "a span of 1024 weeks or more would let a late date in")
        #expect(!window.contains(truth + rollover))
        #expect(!window.contains(window.floor + rollover))
    }

    @Test func eachSourceAloneInsideTheWindowIsFollowed() {
        #expect(decide(gnss: truth).chosen == .gnss)
        #expect(decide(network: truth).chosen == .network)
        #expect(decide(system: truth).chosen == .system)
        #expect(decide(system: truth).trusted == false, "an unsynchronised system clock is never persisted as the floor")
        #expect(decide(system: truth, kernel: .synchronised).trusted)
        #expect(decide().chosen == nil)
    }

    @Test func aGNSSDate1024WeeksLateIsCorrectedBack() {
        let d = decide(gnss: truth + rollover)
        #expect(d.chosen == .gnss && d.utc == truth)
        #expect(d.judged[.gnss]?.verdict == .corrected(weeks: -1024))
        #expect(d.reasons[.gnss] == "chosen; receiver said 2046-07-23, corrected by −1024 weeks")
    }

    @Test func aGNSSDate1024WeeksEarlyIsCorrectedForward() {
        let d = decide(gnss: truth - rollover)
        #expect(d.chosen == .gnss && d.utc == truth)
        #expect(d.judged[.gnss]?.verdict == .corrected(weeks: 1024))
    }

    @Test func aGNSSDateNoCorrectionRescuesIsSetAside() {
        let d = decide(gnss: truth + 2 * rollover + 86_400_000, system: truth)
        #expect(d.chosen == .system)
        #expect(d.reasons[.gnss]?.hasPrefix("set aside: outside the plausible window (2066-") == true)
        #expect(d.reasons[.gnss]?.contains("> ceiling 2036-01-02") == true, "\(d.reasons)")
    }

    @Test func modemDefaultClocksAreRecognisedAndSetAside() {
        let quectel = decide(network: quectelDefault + 5_000, system: truth)
        #expect(quectel.chosen == .system)
        #expect(quectel.reasons[.network] == "set aside: modem default clock 2004-01-01 (no network time)")
        let simcom = decide(network: gpsEpoch)
        #expect(simcom.chosen == nil)
        #expect(simcom.reasons[.network] == "set aside: modem default clock 1980-01-06 (no network time)")
    }

    /// The issue: no NITZ, an unsynchronised system clock, and gpsd dating fixes 2030+ (1024 weeks late).
    @Test func noNITZUnsynchronisedClockAndALateReceiverGiveTheTrueTime() {
        // A Pi without RTC (1970) and a Pi whose clock was restored at boot (a few days behind).
        for system in [Int64(0), truth - 3 * 86_400_000] {
            let d = decide(gnss: truth + rollover, network: quectelDefault, system: system)
            #expect(d.chosen == .gnss && d.utc == truth, "system \(system)")
            #expect(d.reasons[.system]?.hasSuffix("kernel: not NTP-synchronised") == true)
        }
    }

    @Test func twoThatDisagreeNeverFollowTheOneThatBrokeTheWindow() {
        // The network is plausible; the receiver was only brought into the window by a correction, and lands a day off.
        let d = decide(gnss: truth + rollover + 86_400_000, network: truth)
        #expect(d.chosen == .network)
        #expect(d.reasons[.gnss]?.hasPrefix("not followed: differs by +86400.0 s, network ranks first") == true, "\(d.reasons)")
        // An uncorrected, plausible receiver still ranks above the network.
        #expect(decide(gnss: truth + 500, network: truth + 5_000).chosen == .gnss)
    }

    @Test func anNTPSynchronisedKernelIsTrustedFirst() {
        let d = decide(gnss: truth + 200, network: truth + 1_000, system: truth, kernel: .synchronised)
        #expect(d.chosen == .system)
        #expect(d.reasons[.system] == "chosen; kernel: NTP-synchronised")
        #expect(d.reasons[.gnss] == "agrees (+0.2 s)")
        // Synchronised kernel vs a receiver 8 days off (inside the window): no tie-breaker, the kernel wins.
        #expect(decide(gnss: truth - 8 * 86_400_000, system: truth, kernel: .synchronised).chosen == .system)
        // Unless the other two agree against it.
        #expect(decide(gnss: truth + 300, network: truth, system: truth - 3_600_000, kernel: .synchronised).chosen == .gnss)
    }

    @Test func aSynchronisedKernelOutsideTheWindowIsStillSetAside() {
        let d = decide(gnss: truth, system: truth + rollover, kernel: .synchronised)
        #expect(d.chosen == .gnss)
        #expect(d.reasons[.system]?.hasPrefix("set aside: outside the plausible window") == true)
    }

    @Test func withTwoAgreeingAndOneOutsideTheWindowTheWindowDecidesFirst() {
        // All present, receiver late by 1024 weeks, network and system agree: the corrected receiver agrees too, and
        // the network (which needed no correction) is followed.
        let d = decide(gnss: truth + rollover + 400, network: truth, system: truth + 1_000)
        #expect(d.chosen == .network && d.utc == truth)
        #expect(d.reasons[.gnss] == "agrees (+0.4 s); receiver said 2046-07-23, corrected by −1024 weeks")
    }

    @Test func theKernelStatusBitsAreRead() {
        #expect(KernelClock.verdict(statusBits: 0x0001) == .synchronised)  // STA_PLL only
        #expect(KernelClock.verdict(statusBits: 0x0041) == .unsynchronised)  // STA_UNSYNC
        _ = KernelClock.status()  // must not crash or need privileges
    }

    // MARK: The clock as the device uses it

    @Test func theFloorIsTheLastTrustedTimePersisted() {
        let store = InMemoryRecordStore()
        let (clock, utc) = make(systemAt: truth, kernel: .synchronised)
        utc.attach(store: store)
        #expect(utc.now().source == .system)
        utc.flushPersistence()
        #expect((try? store.load(UTCClock.lastTrustedRecord)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } == String(truth))
        // Not again within the hour.
        clock.advance(by: .seconds(1800))
        _ = utc.now()
        utc.flushPersistence()
        #expect((try? store.load(UTCClock.lastTrustedRecord)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } == String(truth))

        // The next boot: a restored system clock 3 months behind what was trusted is below the floor.
        let (clock2, utc2) = make(systemAt: truth - 90 * 86_400_000)
        utc2.attach(store: store)
        #expect(utc2.window.floor == truth)
        #expect(utc2.window.ceiling == truth + UTCClock.plausibleSpan)
        utc2.observe(.network, utc: at(quectelDefault), at: clock2.now())
        let lines = utc2.statusLines()
        #expect(lines[1] == "window 2026-12-07 (last trusted time) … 2036-12-07")
        #expect(lines.contains("system: set aside: outside the plausible window (2026-09-08 < floor 2026-12-07); kernel: not NTP-synchronised"))
        #expect(lines.contains("network: set aside: modem default clock 2004-01-01 (no network time)"))
        utc2.observe(.gnss, utc: at(truth + 60_000), at: clock2.now())
        #expect(utc2.now() == (at(truth + 60_000), .gnss))
    }

    @Test func anImplausibleReceiverIsReportedOnceAndItsFixesAreDatedByTheDevice() throws {
        let (clock, utc) = make(systemAt: 0)  // no RTC
        let troubles = Collector<String>()
        utc.onReceiverTimeTrouble { troubles.append($0) }
        utc.observe(.network, utc: at(truth), at: clock.now())
        let inner = ScriptedPositionSource()
        let tap = TimeTappingPositionSource(inner: inner, utc: utc, clock: clock)
        let fixes = Collector<Fix>()
        try tap.start { if case .fix(let fix) = $0 { fixes.append(fix) } }
        for second in 0..<3 {
            clock.advance(by: .seconds(1))
            // gpsd 3.22's 2046 date for this second.
            inner.send(Fix(latitude: 51, longitude: 3.7, horizontalAccuracy: 10, fixTime: at(truth + 1_000 * Int64(second + 1) + rollover)))
        }
        #expect(troubles.all == ["receiver date 2046-07-23 is 1024 weeks late (corrected)"])
        #expect(fixes.all.map(\.fixTime.millisecondsSince1970) == [truth + 1_000, truth + 2_000, truth + 3_000],
                "[H] carries the device's time, never 2046")
        let lines = utc.statusLines()
        #expect(lines.contains("gnss: receiver said 2046-07-23, corrected by −1024 weeks") ||
                lines.contains("gnss: agrees (+0.0 s); receiver said 2046-07-23, corrected by −1024 weeks"), "\(lines)")
    }

    @Test func aPlausibleReceiverIsNotTroubleAndAFixStampedByTheDeviceIsNotJudged() throws {
        let (clock, utc) = make(systemAt: 0)
        let troubles = Collector<String>()
        utc.onReceiverTimeTrouble { troubles.append($0) }
        let inner = ScriptedPositionSource()
        let tap = TimeTappingPositionSource(inner: inner, utc: utc, clock: clock)
        try tap.start { _ in }
        // gpsd before it knows the date stamps with the device clock (1970 here): no receiver date, no trouble.
        inner.send(Fix(latitude: 51, longitude: 3.7, horizontalAccuracy: 10, fixTime: clock.wallTime()))
        inner.send(Fix(latitude: 51, longitude: 3.7, horizontalAccuracy: 10, fixTime: at(truth)))
        #expect(troubles.all.isEmpty)
        #expect(utc.now() == (at(truth), .gnss))
    }
}

/// A position source the test drives.
final class ScriptedPositionSource: PositionSourceDevice, Sendable {
    let handler = Mutex<(@Sendable (PositionUpdate) -> Void)?>(nil)
    func start(_ updates: @escaping @Sendable (PositionUpdate) -> Void) throws(HALError) { handler.withLock { $0 = updates } }
    func setRate(_ rate: PositionRate) {}
    func send(_ fix: Fix) { handler.withLock { $0 }?(.fix(fix)) }
}
