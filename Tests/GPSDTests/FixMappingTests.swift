import AlarmCore
import CLibGPS
@testable import GPSD
import Testing

@Suite struct FixMappingTests {
    func fix(mode: Int32 = MODE_3D, eph: Double = .nan, epx: Double = .nan, epy: Double = .nan,
             seconds: Int = 1_795_000_000, altitude: Double = 12.5) -> gps_fix_t {
        var f = gps_fix_t()
        f.mode = mode
        f.latitude = 51.054321
        f.longitude = 3.717654
        f.eph = eph
        f.epx = epx
        f.epy = epy
        f.altMSL = altitude
        f.speed = .nan
        f.track = 93.5
        f.time.tv_sec = seconds
        f.time.tv_nsec = 250_000_000
        return f
    }

    let fallback = WallTime(millisecondsSince1970: 42)

    @Test func accuracyFromEphElseFromEpxEpyElseUnknown() {
        #expect(GPSDPositionSource.fix(from: fix(eph: 7.5), fallbackTime: fallback).horizontalAccuracy == 7.5)
        #expect(GPSDPositionSource.fix(from: fix(epx: 3, epy: 4), fallbackTime: fallback).horizontalAccuracy == 5)
        #expect(GPSDPositionSource.fix(from: fix(), fallbackTime: fallback).horizontalAccuracy == .infinity)
    }

    @Test func unknownValuesStayUnknown() {
        let mapped = GPSDPositionSource.fix(from: fix(eph: 5), fallbackTime: fallback)
        #expect(mapped.speed == nil)          // NaN, not 0
        #expect(mapped.course == 93.5)
        #expect(mapped.altitude == 12.5)
        #expect(GPSDPositionSource.fix(from: fix(mode: MODE_2D, eph: 5), fallbackTime: fallback).altitude == nil)
        #expect(GPSDPositionSource.fix(from: fix(eph: 5, altitude: .nan), fallbackTime: fallback).altitude == nil)
    }

    @Test func fixTimeFromTheReceiverWithMilliseconds() {
        #expect(GPSDPositionSource.fix(from: fix(eph: 5), fallbackTime: fallback).fixTime
                == WallTime(millisecondsSince1970: 1_795_000_000_250))
        #expect(GPSDPositionSource.fix(from: fix(eph: 5, seconds: 0), fallbackTime: fallback).fixTime == fallback)
    }

    @Test func coordinatesPassUnchanged() {
        let mapped = GPSDPositionSource.fix(from: fix(eph: 5), fallbackTime: fallback)
        #expect(mapped.latitude == 51.054321)
        #expect(mapped.longitude == 3.717654)
        #expect(mapped.source == .gnss)
    }
}
