/// Lets the engine tie information responses to the command in flight: AT+CREG? is answered by "+CREG: …"
/// lines, so a line whose name matches belongs to the command and one that does not (and is not a bare value
/// the command is known to return, like the IMEI of AT+CGSN) is a URC that arrived in the middle.
public enum ATResponseName: Sendable {
    /// "+CSQ" for "+CSQ: 21,99" (upper case, with the "+"); nil for lines without a "+NAME:" prefix.
    public static func of(_ line: String) -> String? {
        ATText.informationResponse(line)?.name
    }

    /// "+CREG" for "AT+CREG?", "AT+CREG=2" or "AT+CREG=?"; nil for basic commands (ATD…, ATA, ATE0),
    /// which answer with result codes only. Only the first command of a concatenated line is considered.
    public static func expected(for command: String) -> String? {
        let upper = ATText.uppercasedASCII(ATText.trimmed(command))
        guard upper.hasPrefix("AT+") else { return nil }
        let name = upper.dropFirst(2).prefix { $0 != "=" && $0 != "?" && $0 != ";" && $0 != " " }
        return name.count > 1 ? String(name) : nil
    }
}
