/// The identity lines of AT+CGSN / AT+CIMI / AT+QCCID and friends. Modems answer these with a bare value or
/// with a "+NAME: " prefix depending on vendor and syntax, so both are accepted; quotes are removed.
/// The values stay strings: leading zeros matter, and they are identifiers, not numbers.
public enum ModemIdentity: Sendable {
    /// 15 digits (14 + Luhn check digit; the check digit is not verified, as test modules carry invalid ones).
    public static func parseIMEI(_ line: String) -> String? {
        guard let value = value(of: line, names: ["+CGSN", "+GSN", "+QGSN", "IMEI"]),
              value.count == 15, ATText.isDigits(value) else { return nil }
        return value
    }

    /// MCC + MNC + MSIN, at most 15 digits (23.003); 6 is a floor that keeps "OK" and short numbers out.
    public static func parseIMSI(_ line: String) -> String? {
        guard let value = value(of: line, names: ["+CIMI", "IMSI"]),
              (6...15).contains(value.count), ATText.isDigits(value) else { return nil }
        return value
    }

    /// 18…22 digits. A trailing "F" (the BCD filler nibble some modems print) is removed.
    public static func parseICCID(_ line: String) -> String? {
        guard var value = value(of: line, names: ["+QCCID", "+ICCID", "+CCID", "+CICCID", "ICCID"]) else { return nil }
        while value.last == "F" || value.last == "f" { value.removeLast() }
        guard (18...22).contains(value.count), ATText.isDigits(value) else { return nil }
        return value
    }

    private static func value(of line: String, names: Set<String>) -> String? {
        var text = ATText.trimmed(line)
        if let colon = text.firstIndex(of: ":") {
            guard names.contains(ATText.uppercasedASCII(ATText.trimmed(text[..<colon]))) else { return nil }
            text = ATText.trimmed(text[text.index(after: colon)...])
        }
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = String(text.dropFirst().dropLast()) }
        return text
    }
}
