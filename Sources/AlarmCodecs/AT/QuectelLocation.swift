/// Quectel's `AT+QGPSLOC=2` answer (GNSS application note, EC2x/EG2x):
/// `+QGPSLOC: <UTC>,<latitude>,<longitude>,<hdop>,<altitude>,<fix>,<cog>,<spkm>,<spkn>,<date>,<nsat>`
/// with UTC `hhmmss.sss`, latitude/longitude in signed decimal degrees (`(-)dd.ddddd`, `(-)ddd.ddddd`: that
/// is what mode 2 selects), altitude in metres, fix 2 (2D) or 3 (3D), course `ddd.mm` (degrees and minutes),
/// speed in km/h and in knots, date `ddmmyy`, satellites in use. No fix yet: `+CME ERROR: 516` instead.
public enum QuectelLocation {
    public static let prefix = "+QGPSLOC"

    public static func parse(_ line: String) throws(GNSSLocationError) -> GNSSLocation {
        guard let payload = ATText.payload(of: line, named: prefix) else { throw .notALocationLine(line) }
        let fields = ATField.split(payload).map(\.text)
        guard fields.count == 11 else { throw .fieldCount(expected: 11, got: fields.count) }
        for (index, name) in [(0, "UTC time"), (1, "latitude"), (2, "longitude"), (3, "HDOP"), (5, "fix"), (9, "date")]
            where fields[index].isEmpty { throw .incomplete(field: name) }
        let time = try GNSSNumber.utc(date: fields[9], time: fields[0])
        let latitude = try angle(fields[1], field: "latitude", maximum: 90)
        let longitude = try angle(fields[2], field: "longitude", maximum: 180)
        let hdop = try GNSSNumber.decimal(fields[3], field: "HDOP").value
        guard hdop > 0, hdop < 100 else { throw .outOfRange(field: "HDOP", value: fields[3]) }
        guard fields[5] == "2" || fields[5] == "3" else { throw .outOfRange(field: "fix", value: fields[5]) }
        let altitude = try GNSSNumber.optional(fields[4], field: "altitude", signed: true, range: GNSSNumber.altitudeRange)
        let course = try courseDegrees(fields[6])
        let kilometresPerHour = try GNSSNumber.optional(fields[7], field: "speed", range: 0...(GNSSNumber.speedRange.upperBound * 3.6))
        // Knots are the same speed again; only checked for shape, so a garbled copy still rejects the line.
        _ = try GNSSNumber.optional(fields[8], field: "speed (knots)", range: 0...1_000)
        var satellites: Int?
        if !fields[10].isEmpty {
            guard ATText.isDigits(fields[10]), fields[10].count <= 3, let count = Int(fields[10]) else {
                throw .malformed(field: "satellites", value: fields[10])
            }
            guard count <= 99 else { throw .outOfRange(field: "satellites", value: fields[10]) }
            satellites = count
        }
        return GNSSLocation(latitude: latitude, longitude: longitude, time: time, hdop: hdop,
                            altitude: fields[5] == "3" ? altitude : nil, speed: kilometresPerHour.map { $0 / 3.6 },
                            course: course, satellitesUsed: satellites)
    }

    /// Mode 2's signed decimal degrees; the `ddmm.mmmmN` shape of mode 0 is read too (a hemisphere letter
    /// at the end tells them apart), so a firmware or a configuration that answers in it is not misread.
    static func angle(_ text: String, field: String, maximum: Int) throws(GNSSLocationError) -> Double {
        if let last = text.last, "NSEWnsew".contains(last), text.dropLast().last?.isNumber == true {
            return try GNSSNumber.nmeaAngle(String(text.dropLast()), hemisphere: Character(ATText.uppercasedASCII(String(last))),
                                            field: field, maximumDegrees: maximum)
        }
        let value = try GNSSNumber.decimal(text, field: field, signed: true).value
        guard abs(value) <= Double(maximum) else { throw .outOfRange(field: field, value: text) }
        return value
    }

    /// The note documents `ddd.mm` (degrees, then minutes). A fraction of 60 or more cannot be minutes, so the
    /// firmware printed decimal degrees and is taken at its word; either reading is within 0.4° of the other.
    static func courseDegrees(_ text: String) throws(GNSSLocationError) -> Double? {
        guard !text.isEmpty else { return nil }
        let number = try GNSSNumber.decimal(text, field: "course")
        var degrees = number.value
        if number.fraction.count == 2, let minutes = Int(number.fraction), minutes < 60, let whole = Int(number.integer) {
            degrees = Double(whole) + Double(minutes) / 60
        }
        guard GNSSNumber.courseRange.contains(degrees) else { throw .outOfRange(field: "course", value: text) }
        return degrees
    }

    /// `+CME ERROR: 516` ("Not fixed now" with AT+CMEE=2): the engine runs but has no position yet.
    public static func isNotFixedYet(_ result: ATFinalResult) -> Bool { isCME(result, code: 516, text: "NOT FIXED NOW") }

    /// `+CME ERROR: 505` ("Session not active"): the GNSS engine is off (the modem restarted on its own).
    public static func isEngineOff(_ result: ATFinalResult) -> Bool { isCME(result, code: 505, text: "SESSION NOT ACTIVE") }

    static func isCME(_ result: ATFinalResult, code: Int, text: String) -> Bool {
        guard case .cmeError(let number, let said) = result else { return false }
        return number == code || ATText.uppercasedASCII(ATText.trimmed(said)) == text
    }
}
