/// The line that ends a command (27.007 §4.2 and V.250 result codes).
public enum ATFinalResult: Sendable, Hashable {
    case ok, error, noCarrier, busy, noAnswer, noDialtone, connect
    /// `code` is set when the modem reports numerically (AT+CMEE=1), `text` always holds the payload as sent,
    /// so a log shows what the modem said whichever AT+CMEE mode it is in.
    case cmeError(code: Int?, text: String)
    case cmsError(code: Int?, text: String)

    public static func parse(_ line: String) -> ATFinalResult? {
        let original = ATText.trimmed(line)
        let line = ATText.uppercasedASCII(original)
        switch line {
        case "OK": return .ok
        case "ERROR": return .error
        case "NO CARRIER": return .noCarrier
        case "BUSY": return .busy
        case "NO ANSWER": return .noAnswer
        case "NO DIALTONE", "NO DIAL TONE": return .noDialtone
        case "CONNECT": return .connect
        default: break
        }
        // Data calls add the rate ("CONNECT 115200"); it still ends the command.
        if line.hasPrefix("CONNECT ") { return .connect }
        return errorReport(original)
    }

    /// True for the results after which the command did what was asked.
    public var isSuccess: Bool {
        switch self {
        case .ok, .connect: true
        default: false
        }
    }

    private static func errorReport(_ line: String) -> ATFinalResult? {
        guard let response = ATText.informationResponse(line),
              response.name == "+CME ERROR" || response.name == "+CMS ERROR" else { return nil }
        // Some firmware quotes the verbose text; a lone field is unquoted, anything longer is kept whole.
        let fields = ATField.split(response.payload)
        let text = fields.count == 1 ? fields[0].text : response.payload
        let code = fields.count == 1 ? fields[0].int : nil
        return response.name == "+CME ERROR" ? .cmeError(code: code, text: text) : .cmsError(code: code, text: text)
    }
}
