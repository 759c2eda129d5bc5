import AlarmCore

/// `+CCLK: "yy/MM/dd,hh:mm:ss±zz"`, the modem clock (set by NITZ with AT+CTZU=1) as local time plus zone.
public struct NetworkClock: Sendable, Hashable {
    /// UTC.
    public var millisecondsSince1970: Int64
    /// The zone in quarter hours east of UTC, nil when the modem left it out (the time is then taken as UTC).
    public var zoneQuarterHours: Int?

    public init(millisecondsSince1970: Int64, zoneQuarterHours: Int?) {
        self.millisecondsSince1970 = millisecondsSince1970
        self.zoneQuarterHours = zoneQuarterHours
    }

    public var wallTime: WallTime { WallTime(millisecondsSince1970: millisecondsSince1970) }

    /// Years 70…99 are read as 1970…1999 and 00…69 as 2000…2069, so the unset clock some modems report after
    /// boot ("80/01/06,…", the GPS epoch) lands in the past where a plausibility check rejects it, instead of in
    /// 2080. Callers must still compare the result with a lower bound before trusting it.
    public static func parse(_ line: String) -> NetworkClock? {
        guard let payload = ATText.payload(of: line, named: "+CCLK") else { return nil }
        // Unquoted firmware variants put the comma between date and time outside any quotes.
        let text = ATField.split(payload).map(\.text).joined(separator: ",")
        guard let comma = text.firstIndex(of: ",") else { return nil }
        let date = text[..<comma].split(separator: "/", omittingEmptySubsequences: false)
        var time = Substring(text[text.index(after: comma)...])
        var zone: Int?
        if let sign = time.firstIndex(where: { $0 == "+" || $0 == "-" }) {
            let digits = time[time.index(after: sign)...]
            guard ATText.isDigits(digits), let quarters = Int(digits), quarters <= 96 else { return nil }
            zone = time[sign] == "-" ? -quarters : quarters
            time = time[..<sign]
        }
        let clock = time.split(separator: ":", omittingEmptySubsequences: false)
        let numbers = (date + clock).compactMap { ATText.isDigits($0) ? Int($0) : nil }
        guard date.count == 3, clock.count == 3, numbers.count == 6 else { return nil }
        let yy = numbers[0], month = numbers[1], day = numbers[2]
        let hour = numbers[3], minute = numbers[4], second = numbers[5]
        let year = yy < 70 ? 2000 + yy : (yy < 100 ? 1900 + yy : yy)
        guard (1...12).contains(month), (1...daysInMonth(month, year: year)).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        let localSeconds = Int64(daysSince1970(year: year, month: month, day: day)) * 86_400
            + Int64(hour * 3600 + minute * 60 + second)
        let utcSeconds = localSeconds - Int64((zone ?? 0) * 15 * 60)
        return NetworkClock(millisecondsSince1970: utcSeconds * 1000, zoneQuarterHours: zone)
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil): counting
    /// from March makes the leap day the last day of the year, so the day of year follows from one formula.
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
