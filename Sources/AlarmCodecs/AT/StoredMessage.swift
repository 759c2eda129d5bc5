/// The header lines of stored messages in PDU mode (27.005): `+CMGL: <index>,<stat>,[<alpha>],<length>` and
/// `+CMGR: <stat>,[<alpha>],<length>`, each followed by the PDU on its own line.
public enum StoredMessage {
    /// The index in a +CMGL header line; nil for anything else (such as the PDU line).
    public static func listedIndex(_ line: String) -> Int? {
        guard let payload = ATText.payload(of: line, named: "+CMGL") else { return nil }
        return ATField.split(payload).first?.int
    }

    public static func isReadHeader(_ line: String) -> Bool {
        ATText.payload(of: line, named: "+CMGR") != nil
    }

    /// The PDU hex of a line, or nil when the line is not hex.
    public static func pdu(_ line: String) -> String? {
        let text = ATText.trimmed(line)
        return !text.isEmpty && ATText.isHexDigits(text) ? text : nil
    }
}
