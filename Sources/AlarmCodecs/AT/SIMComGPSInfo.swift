/// SIMCom's `AT+CGPSINFO` answer (SIM7500/SIM7600 AT command manual):
/// `+CGPSINFO: <lat>,<N/S>,<log>,<E/W>,<date>,<UTC time>,<alt>,<speed>,<course>` with latitude `ddmm.mmmmmm`,
/// longitude `dddmm.mmmmmm`, date `ddmmyy`, UTC `hhmmss.s`, altitude in metres, speed in knots, course in
/// degrees. Without a fix every field is empty: `+CGPSINFO: ,,,,,,,,`. There is no HDOP in this answer.
public enum SIMComGPSInfo {
    public static let prefix = "+CGPSINFO"
    static let metresPerSecondPerKnot = 1852.0 / 3600

    /// Nil: the receiver has no fix (all fields empty).
    public static func parse(_ line: String) throws(GNSSLocationError) -> GNSSLocation? {
        guard let payload = ATText.payload(of: line, named: prefix) else { throw .notALocationLine(line) }
        let fields = ATField.split(payload).map(\.text)
        guard fields.count == 9 else { throw .fieldCount(expected: 9, got: fields.count) }
        if fields.allSatisfy(\.isEmpty) { return nil }
        for (index, name) in [(0, "latitude"), (1, "latitude hemisphere"), (2, "longitude"), (3, "longitude hemisphere"),
                              (4, "date"), (5, "UTC time")] where fields[index].isEmpty {
            throw .incomplete(field: name)
        }
        func hemisphere(_ text: String, field: String) throws(GNSSLocationError) -> Character {
            guard text.count == 1, let letter = text.first else { throw .malformed(field: field, value: text) }
            return Character(ATText.uppercasedASCII(String(letter)))
        }
        let latitude = try GNSSNumber.nmeaAngle(fields[0], hemisphere: try hemisphere(fields[1], field: "latitude hemisphere"),
                                                field: "latitude", maximumDegrees: 90)
        let longitude = try GNSSNumber.nmeaAngle(fields[2], hemisphere: try hemisphere(fields[3], field: "longitude hemisphere"),
                                                 field: "longitude", maximumDegrees: 180)
        let time = try GNSSNumber.utc(date: fields[4], time: fields[5])
        let altitude = try GNSSNumber.optional(fields[6], field: "altitude", signed: true, range: GNSSNumber.altitudeRange)
        let knots = try GNSSNumber.optional(fields[7], field: "speed",
                                            range: 0...(GNSSNumber.speedRange.upperBound / metresPerSecondPerKnot))
        let course = try GNSSNumber.optional(fields[8], field: "course", range: GNSSNumber.courseRange)
        return GNSSLocation(latitude: latitude, longitude: longitude, time: time, hdop: nil, altitude: altitude,
                            speed: knots.map { $0 * metresPerSecondPerKnot }, course: course)
    }
}
