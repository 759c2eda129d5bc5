import AlarmCore
import AlarmRuntime
import Logging
import SimBackends
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
