import AlarmCore
import CLibGPS

/// libgps's fix → ours: eph, else the root sum of epx/epy, else unknown (infinite) accuracy. Kept apart (only libgps
/// and the core) so `make fuzz` can drive it with whatever gpsd's JSON can say.
public enum GPSFixMapping {
    public static func fix(from fix: gps_fix_t, fallbackTime: WallTime) -> Fix {
        var accuracy = Double.infinity
        if fix.eph.isFinite, fix.eph >= 0 {
            accuracy = fix.eph
        } else if fix.epx.isFinite, fix.epy.isFinite {
            accuracy = (fix.epx * fix.epx + fix.epy * fix.epy).squareRoot()
        }
        // A time gpsd should never send (before 1970, or so far ahead that milliseconds overflow) is no time at all.
        let seconds = Int64(fix.time.tv_sec)
        let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        let time = seconds > 0 && !overflow && milliseconds < Int64.max - 1000
            ? WallTime(millisecondsSince1970: milliseconds + Int64(fix.time.tv_nsec) / 1_000_000)
            : fallbackTime
        func known(_ value: Double) -> Double? { value.isFinite ? value : nil }
        return Fix(latitude: fix.latitude, longitude: fix.longitude, horizontalAccuracy: accuracy, fixTime: time,
                   source: .gnss, altitude: fix.mode >= MODE_3D ? known(fix.altMSL) : nil,
                   speed: known(fix.speed), course: known(fix.track))
    }
}
