/// Unsolicited result codes (URCs) the driver acts on or logs.
public enum ATUnsolicited: Sendable, Hashable {
    case ring
    case clip(number: String?, type: Int?)
    case callWaiting(number: String?, type: Int?)
    case callList(CallListEntry)
    case registration(RegistrationReport)
    case newMessage(storage: String, index: Int)
    case ready
    case simState(String)
    case packetDomain(PacketDomainEvent)
    /// NO CARRIER while no command waits for a final result: the call ended.
    case noCarrier
    /// Any other "+NAME: payload" line (name as on the wire, with its "+") or a known bare vendor line
    /// ("SMS DONE", "POWERED DOWN", … with an empty payload).
    case vendor(name: String, payload: String)

    /// Parses a line that arrived with no command in flight, or that the engine has decided is not part of the
    /// command in flight. Returns nil for lines that cannot be URCs: final results other than NO CARRIER, echoes,
    /// bare values, +CLIP/+CCWA settings reports, and +CxREG/+CLCC/+CMTI lines whose fields do not parse.
    ///
    /// "+CRING: VOICE" (AT+CRC=1) is `.ring`; a +CRING for another call type is `.vendor`, so a data or fax
    /// call is never answered as if it were a voice call.
    public static func parse(_ line: String) -> ATUnsolicited? {
        let line = ATText.trimmed(line)
        let upper = ATText.uppercasedASCII(line)
        switch upper {
        case "RING": return .ring
        case "RDY": return .ready
        case "NO CARRIER": return .noCarrier
        default: break
        }
        if bareVendorLines.contains(upper) { return .vendor(name: upper, payload: "") }
        guard let (name, payload) = ATText.informationResponse(line) else { return nil }
        switch name {
        case "+CME ERROR", "+CMS ERROR":
            return nil
        case "+CRING":
            let type = ATText.uppercasedASCII(payload)
            return type == "VOICE" || type == "REL VOICE" ? .ring : .vendor(name: name, payload: payload)
        case "+CLIP":
            return CallerIdentification.parse(payload, validityIndex: 5).map { .clip(number: $0.number, type: $0.type) }
        case "+CCWA":
            return CallerIdentification.parse(payload, validityIndex: 4)
                .map { .callWaiting(number: $0.number, type: $0.type) }
        case "+CLCC":
            return CallListEntry.parse(line).map { .callList($0) }
        case "+CREG", "+CGREG", "+CEREG":
            return RegistrationReport.parse(line, solicited: false).map { .registration($0) }
        case "+CMTI", "+CDSI":
            let fields = ATField.split(payload)
            guard fields.count >= 2, let index = fields[1].int else { return nil }
            return .newMessage(storage: fields[0].text, index: index)
        case "+CPIN":
            return payload.isEmpty ? nil : .simState(payload)
        case "+CGEV":
            return .packetDomain(PacketDomainEvent.parse(payload))
        default:
            return .vendor(name: name, payload: payload)
        }
    }

    /// True for lines that no command answers, so the engine can route them as URCs even while a command
    /// is in flight. +CLIP and +CCWA count only in their caller shape (see `CallerIdentification`); +CREG,
    /// +CPIN, +CLCC, +CFUN, NO CARRIER and the like are left to the engine, because a command can answer with
    /// the same line.
    ///
    /// +CMT, +CDS and +CBM are here although `parse` does not decode them: they are followed by a PDU line
    /// that the engine must also take out of the response (the driver should route SMS with +CNMI to +CMTI).
    public static func isAlwaysUnsolicited(_ line: String) -> Bool {
        let line = ATText.trimmed(line)
        let upper = ATText.uppercasedASCII(line)
        if upper == "RING" || upper == "RDY" || bareVendorLines.contains(upper) { return true }
        guard let (name, payload) = ATText.informationResponse(line) else { return false }
        switch name {
        case "+CLIP", "+CCWA": return CallerIdentification.looksLikeCaller(ATField.split(payload))
        default: return alwaysUnsolicitedNames.contains(name)
        }
    }

    private static let alwaysUnsolicitedNames: Set<String> = [
        "+CRING", "+CMTI", "+CDSI", "+CMT", "+CDS", "+CBM", "+CTZV", "+CTZE", "+CGEV",
        // Quectel: indications, USIM type at boot, TCP/IP stack events.
        "+QIND", "+QUSIM", "+QIURC",
    ]

    /// Bare-word URCs: Quectel boot progress and power-down notices, SIMCom/Quectel M-series "Call Ready".
    /// Other bare words are not URCs.
    private static let bareVendorLines: Set<String> = [
        "SMS DONE", "PB DONE", "POWERED DOWN", "NORMAL POWER DOWN",
        "UNDER-VOLTAGE POWER DOWN", "UNDER-VOLTAGE WARNING", "OVER-VOLTAGE POWER DOWN", "OVER-VOLTAGE WARNING",
        "CALL READY", "SMS READY",
    ]
}
