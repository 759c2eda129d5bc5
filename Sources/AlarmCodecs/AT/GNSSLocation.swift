import AlarmCore

/// A position the modem's own GNSS reported over AT (Quectel `+QGPSLOC`, SIMCom `+CGPSINFO`), already in
/// degrees, UTC and SI units.
public struct GNSSLocation: Sendable, Hashable {
    /// Degrees, north positive.
    public var latitude: Double
    /// Degrees, east positive.
    public var longitude: Double
    /// The receiver's UTC time of the fix.
    public var time: WallTime
    /// Nil when the answer carries none (SIMCom's +CGPSINFO).
    public var hdop: Double?
    /// Metres above mean sea level; nil for a 2D fix or when not given.
    public var altitude: Double?
    /// Metres per second over ground.
    public var speed: Double?
    /// Degrees from true north.
    public var course: Double?
    public var satellitesUsed: Int?

    public init(latitude: Double, longitude: Double, time: WallTime, hdop: Double? = nil, altitude: Double? = nil,
                speed: Double? = nil, course: Double? = nil, satellitesUsed: Int? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.time = time
        self.hdop = hdop
        self.altitude = altitude
        self.speed = speed
        self.course = course
        self.satellitesUsed = satellitesUsed
    }

    /// Metres per unit of HDOP. The modem gives no error estimate over AT, only HDOP; 19 m is the factor gpsd
    /// applies to the same receiver's NMEA when it has no better estimate (checked in GPSDTests: HDOP 0.9 →
    /// eph 17.1 m), so a fix from the modem's GNSS means the same to the core whether it comes through gpsd or
    /// over AT. It is a roughly 95 % radius and deliberately cautious: a 1σ figure (UERE ≈ 5 m × HDOP) would
    /// claim a precision a body-worn antenna does not have, and the centre searches the radius it is given.
    public static let metresPerHDOP = 19.0

    /// The HDOP assumed when the answer carries none (SIMCom's +CGPSINFO). The modem only answers with a
    /// position once it has a fix; 2.5 is the poor end of a usable sky view, so the radius (47.5 m) stays
    /// under the core's 100 m freshness limit without claiming more than we know.
    public static let assumedHDOP = 2.5

    /// The estimated horizontal accuracy radius in metres (see `metresPerHDOP`, `assumedHDOP`).
    public var horizontalAccuracy: Double { (hdop ?? Self.assumedHDOP) * Self.metresPerHDOP }

    public var fix: Fix {
        Fix(latitude: latitude, longitude: longitude, horizontalAccuracy: horizontalAccuracy, fixTime: time,
            source: .gnss, altitude: altitude, speed: speed, course: course, satellitesUsed: satellitesUsed)
    }
}

/// Why a location answer was not taken. A corrupted field anywhere rejects the whole line: a line whose
/// speed is garbled may also have garbled digits in a latitude that still looks plausible.
public enum GNSSLocationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The line is not the expected information response (`+QGPSLOC:`, `+CGPSINFO:`).
    case notALocationLine(String)
    case fieldCount(expected: Int, got: Int)
    /// A field that is not a number of the expected shape.
    case malformed(field: String, value: String)
    /// A well-formed number outside what the field can hold (latitude 91°, minutes 60, month 13…).
    case outOfRange(field: String, value: String)
    /// Some fields of a position present and others empty.
    case incomplete(field: String)

    public var description: String {
        switch self {
        case .notALocationLine(let line): "not a GNSS location line: \(line.prefix(60))"
        case .fieldCount(let expected, let got): "GNSS location line has \(got) field(s), expected \(expected)"
        case .malformed(let field, let value): "GNSS \(field) malformed: \"\(value.prefix(20))\""
        case .outOfRange(let field, let value): "GNSS \(field) out of range: \(value.prefix(20))"
        case .incomplete(let field): "GNSS location line without \(field)"
        }
    }
}

/// The number shapes of the GNSS answers, read strictly: `Double("1e5")`, `"nan"` or `"0x1p3"` are not
/// what a modem sends, so only `-?digits[.digits]` is accepted.
enum GNSSNumber {
    struct Decimal {
        var negative: Bool
        var integer: Substring
        var fraction: Substring
        var value: Double
    }

    static func decimal(_ text: String, field: String, signed: Bool = false) throws(GNSSLocationError) -> Decimal {
        var body = Substring(text)
        let negative = signed && body.first == "-"
        if negative { body = body.dropFirst() }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integer = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        guard ATText.isDigits(integer), parts.count == 1 || ATText.isDigits(fraction), integer.count <= 9,
              fraction.count <= 12, let value = Double(body) else {
            throw .malformed(field: field, value: text)
        }
        return Decimal(negative: negative, integer: integer, fraction: fraction, value: negative ? -value : value)
    }

    /// An optional field: empty → nil.
    static func optional(_ text: String, field: String, signed: Bool = false,
                         range: ClosedRange<Double>) throws(GNSSLocationError) -> Double? {
        guard !text.isEmpty else { return nil }
        let value = try decimal(text, field: field, signed: signed).value
        guard range.contains(value) else { throw .outOfRange(field: field, value: text) }
        return value
    }

    /// NMEA `ddmm.mmmm` / `dddmm.mmmm` (degrees then minutes) with its hemisphere letter → signed degrees.
    static func nmeaAngle(_ text: String, hemisphere: Character, field: String,
                          maximumDegrees: Int) throws(GNSSLocationError) -> Double {
        let number = try decimal(text, field: field)
        // At least one degree digit and two minute digits; at most three degree digits (longitude).
        let degreeDigits = maximumDegrees > 90 ? 3 : 2
        guard (3...(degreeDigits + 2)).contains(number.integer.count) else { throw .malformed(field: field, value: text) }
        let degrees = Int(number.integer.dropLast(2)) ?? 0
        let minutes = number.value - Double(degrees * 100)
        guard minutes < 60 else { throw .outOfRange(field: field, value: text) }
        let angle = Double(degrees) + minutes / 60
        guard angle <= Double(maximumDegrees) else { throw .outOfRange(field: field, value: text) }
        let positive: Character = maximumDegrees > 90 ? "E" : "N"
        let negative: Character = maximumDegrees > 90 ? "W" : "S"
        switch hemisphere {
        case positive: return angle
        case negative: return -angle
        default: throw .malformed(field: field + " hemisphere", value: String(hemisphere))
        }
    }

    /// `ddmmyy` and `hhmmss[.s…]` → UTC. Two-digit years are this century's: GNSS dates cannot be older.
    static func utc(date: String, time: String) throws(GNSSLocationError) -> WallTime {
        guard date.count == 6, ATText.isDigits(date) else { throw .malformed(field: "date", value: date) }
        let clock = try decimal(time, field: "UTC time")
        guard clock.integer.count == 6 else { throw .malformed(field: "UTC time", value: time) }
        func two(_ s: String, _ offset: Int) -> Int { Int(s.dropFirst(offset).prefix(2)) ?? -1 }
        let digits = String(clock.integer)
        // Milliseconds from the first three fraction digits, right-padded ("3" is 300 ms).
        let fraction = String(clock.fraction.prefix(3))
        let millisecond = fraction.isEmpty ? 0 : (Int(fraction + String(repeating: "0", count: 3 - fraction.count)) ?? 0)
        let civil = CivilTime(year: 2000 + two(date, 4), month: two(date, 2), day: two(date, 0), hour: two(digits, 0),
                              minute: two(digits, 2), second: two(digits, 4), millisecond: millisecond)
        guard civil.isValid else { throw .outOfRange(field: "date/time", value: date + " " + time) }
        return WallTime(millisecondsSince1970: civil.millisecondsSince1970)
    }

    static let altitudeRange: ClosedRange<Double> = -1_000...20_000
    static let courseRange: ClosedRange<Double> = 0...360
    /// m/s; anything faster than an airliner is a corrupted field, not a wearer.
    static let speedRange: ClosedRange<Double> = 0...350
}
