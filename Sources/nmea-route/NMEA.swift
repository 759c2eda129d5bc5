/// Number formatting without Foundation (`String(format:)` is Foundation).
enum Text {
    /// Zero-padded non-negative integer.
    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Fixed-point decimal, rounded half away from zero: `fixed(1.25, 1)` is "1.3".
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((abs(value) * Double(scale)).rounded())
        let sign = value < 0 && scaled != 0 ? "-" : ""
        let whole = String(scaled / scale)
        guard decimals > 0 else { return sign + whole }
        return sign + whole + "." + padded(Int(scaled % scale), decimals)
    }
}

/// NMEA 0183 (version 2.3 field layout) sentence building.
enum NMEA {
    /// Decimals of the minutes in positions. Five (as u-blox receivers send)
    /// resolve 1/6,000,000 of a degree, about 2 cm: well inside the 1e-6°
    /// the fixtures' tests compare against.
    static let minuteDecimals = 5

    /// `$` + body + `*` + checksum: the XOR of every byte between `$` and `*`,
    /// as two upper-case hex digits.
    static func sentence(_ body: String) -> String {
        var checksum: UInt8 = 0
        for byte in body.utf8 { checksum ^= byte }
        let hex = Array("0123456789ABCDEF".utf8)
        let digits = String(decoding: [hex[Int(checksum >> 4)], hex[Int(checksum & 0x0F)]], as: UTF8.self)
        return "$" + body + "*" + digits
    }

    /// `ddmm.mmmmm,N` / `dddmm.mmmmm,E` (degrees, then decimal minutes, then
    /// the hemisphere letter; the numeric part is never negative).
    static func coordinate(_ degrees: Double, degreeDigits: Int, positive: String, negative: String) -> String {
        let magnitude = abs(degrees)
        var whole = Int(magnitude)
        var scale = 1
        for _ in 0..<minuteDecimals { scale *= 10 }
        var minuteUnits = Int(((magnitude - Double(whole)) * 60 * Double(scale)).rounded())
        if minuteUnits >= 60 * scale {
            whole += 1
            minuteUnits -= 60 * scale
        }
        let minutes = Text.padded(minuteUnits / scale, 2) + "." + Text.padded(minuteUnits % scale, minuteDecimals)
        return Text.padded(whole, degreeDigits) + minutes + "," + (degrees < 0 ? negative : positive)
    }

    static func latitude(_ degrees: Double) -> String {
        coordinate(degrees, degreeDigits: 2, positive: "N", negative: "S")
    }

    static func longitude(_ degrees: Double) -> String {
        coordinate(degrees, degreeDigits: 3, positive: "E", negative: "W")
    }

    /// The value a reader recovers from `coordinate` (what gpsd reports).
    static func roundTripped(_ degrees: Double) -> Double {
        var scale = 1.0
        for _ in 0..<minuteDecimals { scale *= 10 }
        let magnitude = abs(degrees)
        let whole = Double(Int(magnitude))
        let minutes = ((magnitude - whole) * 60 * scale).rounded() / scale
        let value = whole + minutes / 60
        return degrees < 0 ? -value : value
    }

    /// `hhmmss.ss`
    static func time(_ t: UTCTime) -> String {
        Text.padded(t.hour, 2) + Text.padded(t.minute, 2) + Text.padded(t.second, 2) + ".00"
    }

    /// `ddmmyy`
    static func date(_ t: UTCTime) -> String {
        Text.padded(t.day, 2) + Text.padded(t.month, 2) + Text.padded(t.year % 100, 2)
    }
}

/// The constant receiver quality figures of the simulated fix.
///
/// What gpsd 3.22 needs to fill a TPV's error fields (measured with gpsfake,
/// and in gpsd_error_model() of libgpsd_core.c; gpsd's UERE constants
/// without DGPS are h 15 m, p 19 m, v 23 m):
/// - `eph` = HDOP × 19 m: needs only an HDOP (GGA or GSA) and a 2D/3D fix.
///   HDOP 0.9 gives `"eph":17.100`.
/// - `epx`/`epy` = XDOP/YDOP × 15 m. NMEA carries no XDOP/YDOP: gpsd computes
///   them from the geometry of the satellites GSA lists as used, with the
///   azimuths and elevations from GSV. Without GSV there is no epx/epy (and
///   no SKY with satellites). The sky below gives XDOP 0.70, YDOP 0.82, so
///   `"epx":10.547,"epy":12.297`.
/// - `epv` = VDOP × 23 m (29.9), `sep` = PDOP × 19 m (30.4), `ept` 0.005 s.
/// - GST is parsed and reported as its own GST object, but gpsd 3.22 does not
///   use its latitude/longitude errors for eph/epx/epy (a real receiver sends
///   it, so the fixtures keep it).
/// - TPV mode 3 needs GSA fix type 3 or GGA quality ≥ 1 with an altitude;
///   `time` needs the RMC date (GGA has only the time of day).
enum Receiver {
    /// PRN, elevation°, azimuth° true, SNR dB-Hz; all used in the fix.
    static let sky: [(prn: Int, elevation: Int, azimuth: Int, snr: Int)] = [
        (2, 45, 120, 42), (5, 30, 60, 40), (7, 60, 300, 45), (13, 20, 200, 38),
        (15, 75, 20, 46), (18, 15, 250, 35), (20, 35, 160, 41), (29, 50, 340, 43),
    ]
    static let pdop = 1.6, hdop = 0.9, vdop = 1.3
    /// Metres above mean sea level (Ghent's streets are at about 8 m).
    static let altitude = 8.0
    /// Geoid separation at Ghent (EGM96), metres.
    static let geoidSeparation = 47.0
    /// GST: RMS of pseudorange residuals, error ellipse (semi-major,
    /// semi-minor, orientation in degrees true), 1-sigma latitude,
    /// longitude and altitude errors in metres.
    static let rangeRMS = 1.2
    static let semiMajor = 2.1, semiMinor = 1.6, orientation = 35.0
    static let latitudeError = 1.8, longitudeError = 1.7, altitudeError = 3.1
}
