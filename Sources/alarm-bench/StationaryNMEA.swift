import Glibc

/// An NMEA log with a good fix, one epoch a second (RMC, GGA, GSA, GSV: four sentences, so gpsfake at 0.25 s a
/// sentence replays it at 1 Hz): lying still (the GNSS kept warm while the device idles) or heading north at
/// `metresPerSecond` (every fix far beyond its accuracy from the last, so each one makes a position update).
enum StationaryNMEA {
    static func log(seconds: Int, from wallMilliseconds: Int64, latitude: Double = 51.0543, longitude: Double = 3.7174,
                    metresPerSecond: Double = 0) -> String {
        var lines: [String] = []
        let first = time_t(wallMilliseconds / 1000)
        for second in 0..<seconds {
            var when = first + time_t(second)
            var utc = tm()
            gmtime_r(&when, &utc)
            let time = two(utc.tm_hour) + two(utc.tm_min) + two(utc.tm_sec) + ".00"
            let date = two(utc.tm_mday) + two(utc.tm_mon + 1) + two(utc.tm_year % 100)
            let lat = degreesMinutes(latitude + Double(second) * metresPerSecond / 111_320, width: 2), lon = degreesMinutes(longitude, width: 3)
            let knots = String(Int(metresPerSecond * 1.943_844)) + ".00"
            lines.append(sentence("GPRMC,\(time),A,\(lat),N,\(lon),E,\(knots),0.0,\(date),,,A"))
            lines.append(sentence("GPGGA,\(time),\(lat),N,\(lon),E,1,08,0.9,12.0,M,46.0,M,,"))
            lines.append(sentence("GPGSA,A,3,02,05,07,09,13,16,20,29,,,,,1.6,0.9,1.3"))
            lines.append(sentence("GPGSV,2,1,08,02,40,083,46,05,17,308,41,07,07,344,39,09,22,228,45"))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func sentence(_ body: String) -> String {
        let sum = body.utf8.reduce(UInt8(0)) { $0 ^ $1 }
        let digits = Array("0123456789ABCDEF")
        return "$" + body + "*" + String([digits[Int(sum >> 4)], digits[Int(sum & 15)]])
    }

    /// ddmm.mmmm / dddmm.mmmm for a positive angle.
    static func degreesMinutes(_ value: Double, width: Int) -> String {
        let degrees = Int(value)
        let tenThousandths = Int(((value - Double(degrees)) * 60 * 10_000).rounded())
        let minutes = String(tenThousandths / 10_000), fraction = String(tenThousandths % 10_000)
        let paddedDegrees = String(repeating: "0", count: max(0, width - String(degrees).count)) + String(degrees)
        return paddedDegrees + String(repeating: "0", count: max(0, 2 - minutes.count)) + minutes + "."
            + String(repeating: "0", count: max(0, 4 - fraction.count)) + fraction
    }

    static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
