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
        let local = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard local.isValid else { return nil }
        let utc = local.millisecondsSince1970 - Int64((zone ?? 0) * 15 * 60_000)
        return NetworkClock(millisecondsSince1970: utc, zoneQuarterHours: zone)
    }
}
