import AlarmCore

/// The answer to AT+CEER, the release cause of the last call. 27.007 leaves the text to the manufacturer; shapes
/// seen in manuals and field logs:
/// - `+CEER: 16`, `+CEER: 16,"Normal call clearing"`, `+CEER: "Normal call clearing"`, `+CEER: Normal call clearing`
/// - Quectel: a category naming the protocol layer, then the cause as a number or as text:
///   `+CEER: "CC INFO",16`, `+CEER: "CC INFO","Normal call clearing"`, `+CEER: "SM INFO",…` for a data context
/// - SIMCom (A76xx field trace): one quoted string, number then text: `+CEER: "16 Normal call clearing"`,
///   `+CEER: "0 Unknown"` after a local hang-up
/// - Cinterion: `+CEER: "CC setup error",16,"Normal call clearing"`, `+CEER: "SM detach",0,"No cause information available"`
/// Some firmwares answer ERROR: then there is no line to parse and the reason is unknown.
public struct CallEndCause: Sendable, Hashable {
    /// The 24.008 cause value, when the modem gives one.
    public var cause: Int?
    public var text: String?
    /// Quectel's category ("CC INFO", "SM INFO", …), which says which protocol layer `cause` belongs to.
    public var category: String?

    public init(cause: Int?, text: String? = nil, category: String? = nil) {
        self.cause = cause
        self.text = text
        self.category = category
    }

    /// 16 normal clearing, 17 busy, 18/19 no answer, any other cause a network failure.
    ///
    /// 31 "normal, unspecified" is deliberately a network failure: networks use it for releases that fit no
    /// other cause, including radio drops reported by the far side's network, so it is no evidence that the far
    /// end chose to hang up. Taking it for normal clearing would tell the alarm logic the centre was done
    /// listening, while the safe reading is that the call failed and may have to be re-established.
    ///
    /// A number or a text is only read as a call-control cause when there is no category or it is a CC one:
    /// the same numbers mean other things in session or mobility management, and a session-management text
    /// says nothing about the call. Otherwise the text decides, and with neither (or a cause outside 1…127,
    /// or "no cause information") the reason is `.unknown`.
    public var reason: CallEndReason {
        if let category, !ATText.uppercasedASCII(category).hasPrefix("CC") { return .unknown }
        if let cause {
            switch cause {
            case 16: return .normalClearing
            case 17: return .busy
            case 18, 19: return .noAnswer
            case 1...127: return .networkFailure
            default: return .unknown
            }
        }
        guard let text else { return .unknown }
        switch ATText.uppercasedASCII(text) {
        case "NORMAL CALL CLEARING": return .normalClearing
        case "USER BUSY": return .busy
        case "NO USER RESPONDING", "USER ALERTING, NO ANSWER", "NO ANSWER": return .noAnswer
        case let upper where upper.hasPrefix("NO CAUSE INFORMATION"): return .unknown
        default: return .networkFailure
        }
    }

    /// Integers become the cause, a leading field naming a protocol layer (`CC INFO`, `SM detach`, …) the
    /// category, a text starting with a number and a space (SIMCom) both, the rest the text (rejoined with
    /// ", ", so an unquoted "Normal, unspecified" survives the comma split).
    public static func parse(_ line: String) -> CallEndCause? {
        guard let payload = ATText.payload(of: line, named: "+CEER") else { return nil }
        var result = CallEndCause(cause: nil)
        var texts: [String] = []
        for field in ATField.split(payload) where !field.text.isEmpty {
            if let number = field.int ?? (field.quoted ? Int(field.text) : nil), result.cause == nil {
                result.cause = number
            } else if result.category == nil, result.cause == nil, texts.isEmpty, isCategory(field.text) {
                result.category = field.text
            } else if result.cause == nil, texts.isEmpty, let (number, text) = numberedText(field.text) {
                result.cause = number
                texts.append(text)
            } else {
                texts.append(field.text)
            }
        }
        result.text = texts.isEmpty ? nil : texts.joined(separator: ", ")
        return result
    }

    /// The protocol layers vendors name before the cause: call control, session/mobility management (2G/3G and
    /// EPS), supplementary services.
    private static let layers = ["CC", "SM", "SS", "MM", "GMM", "EMM", "ESM"]

    /// "CC INFO", "SM REJECT", "CC setup error", "SM detach": a layer abbreviation, a space, a word.
    private static func isCategory(_ text: String) -> Bool {
        let upper = ATText.uppercasedASCII(text)
        guard let space = upper.firstIndex(of: " ") else { return false }
        return layers.contains(String(upper[..<space])) && upper.index(after: space) < upper.endIndex
    }

    /// "16 Normal call clearing" → (16, "Normal call clearing").
    private static func numberedText(_ text: String) -> (Int, String)? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 3, let number = Int(digits) else { return nil }
        let rest = text.dropFirst(digits.count)
        guard rest.first == " " else { return nil }
        let words = rest.drop { $0 == " " }
        return words.isEmpty ? nil : (number, String(words))
    }
}
