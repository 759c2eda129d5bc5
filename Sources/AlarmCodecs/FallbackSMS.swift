import AlarmCore

/// The interim text of the fallback SMS, modelled on AML's `key=value;` shape. The reporting issue
/// replaces it (and decides how a position travels over SMS, which is not encrypted).
public enum FallbackSMS {
    public static func text(deviceID: String, report: Report) -> String {
        var fields = ["ALARM=1", "dev=\(deviceID)", "seq=\(report.sequence)", "kind=\(report.kind.rawValue)"]
        if let fix = report.position {
            fields.append("lt=\(fixed(fix.latitude))")
            fields.append("lg=\(fixed(fix.longitude))")
            fields.append("rd=\(Int(fix.horizontalAccuracy.rounded()))")
            fields.append("pm=\(fix.source == .cell ? "C" : "G")")
        }
        if let cell = report.cell { fields.append("cell=\(cell.mcc)-\(cell.mnc)-\(cell.areaCode)-\(cell.cellID)") }
        return fields.joined(separator: ";")
    }

    /// Six decimals (about 0.1 m), without Foundation's formatters.
    static func fixed(_ value: Double) -> String {
        let scaled = Int64((abs(value) * 1_000_000).rounded())
        let whole = scaled / 1_000_000
        let fraction = String(scaled % 1_000_000)
        let sign = value < 0 ? "-" : "+"
        return "\(sign)\(whole).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }
}
