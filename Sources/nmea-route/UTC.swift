import AlarmCore

/// NMEA time and date fields; the calendar arithmetic is AlarmCore's `CivilTime`.
struct UTCTime {
    var year: Int, month: Int, day: Int
    var hour: Int, minute: Int, second: Int

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, UTC only).
    init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              bytes[19] == UInt8(ascii: "Z") || bytes[19] == UInt8(ascii: "z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second).isValid
        else { return nil }
        self.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.year = year; self.month = month; self.day = day
        self.hour = hour; self.minute = minute; self.second = second
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    init(epochSeconds: Int) {
        let civil = CivilTime(millisecondsSince1970: Int64(epochSeconds) * 1000)
        self.init(year: civil.year, month: civil.month, day: civil.day,
                  hour: civil.hour, minute: civil.minute, second: civil.second)
    }

    var epochSeconds: Int {
        Int(CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            .millisecondsSince1970 / 1000)
    }

    /// ISO 8601 as gpsd prints it in TPV `time` (whole seconds).
    var iso8601: String {
        "\(Text.padded(year, 4))-\(Text.padded(month, 2))-\(Text.padded(day, 2))T"
            + "\(Text.padded(hour, 2)):\(Text.padded(minute, 2)):\(Text.padded(second, 2)).000Z"
    }
}
