import AlarmCore

/// The DC-09 timestamp `_HH:MM:SS,MM-DD-YYYY` (UTC).
public enum DC09Timestamp {
    public static func format(_ time: WallTime) -> String {
        let c = CivilTime(millisecondsSince1970: time.millisecondsSince1970)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "_\(two(c.hour)):\(two(c.minute)):\(two(c.second)),\(two(c.month))-\(two(c.day))-\(c.year)"
    }

    /// Parses `_HH:MM:SS,MM-DD-YYYY` (the leading underscore optional); nil when malformed or out of range.
    public static func parse<S: StringProtocol>(_ text: S) -> WallTime? {
        var text = Substring(text)
        if text.first == "_" { text = text.dropFirst() }
        let parts = text.split(separator: ",")
        guard parts.count == 2 else { return nil }
        let clock = parts[0].split(separator: ":").map { Int($0) }
        let date = parts[1].split(separator: "-").map { Int($0) }
        guard clock.count == 3, date.count == 3, parts[0].count == 8, parts[1].count == 10,
              let h = clock[0], let mi = clock[1], let s = clock[2], let mo = date[0], let d = date[1], let y = date[2],
              (0...23).contains(h), (0...59).contains(mi), (0...60).contains(s), (1...12).contains(mo), (1...31).contains(d),
              (1970...9999).contains(y) else { return nil }
        let civil = CivilTime(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
        guard civil.isValid else { return nil }
        return WallTime(millisecondsSince1970: civil.millisecondsSince1970)
    }
}
