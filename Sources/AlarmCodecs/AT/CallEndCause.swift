import AlarmCore

/// The answer to AT+CEER, the release cause of the last call. Real shapes:
/// `+CEER: "Normal call clearing"`, `+CEER: 16`, Quectel `+CEER: "CC INFO",16` and `+CEER: 16,"Normal call clearing"`.
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
    /// A number is only read as a call-control cause when there is no category or it is a CC one: the same
    /// numbers mean other things in session or mobility management. Otherwise the text decides, and with
    /// neither (or a cause outside 1…127, or "no cause information") the reason is `.unknown`.
    public var reason: CallEndReason {
        if let cause, category.map({ ATText.uppercasedASCII($0).hasPrefix("CC") }) ?? true {
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

    /// Integers become the cause, a field ending in " INFO" the category, the rest the text (rejoined with ", ",
    /// so an unquoted "Normal, unspecified" survives the comma split).
    public static func parse(_ line: String) -> CallEndCause? {
        guard let payload = ATText.payload(of: line, named: "+CEER") else { return nil }
        var result = CallEndCause(cause: nil)
        var texts: [String] = []
        for field in ATField.split(payload) where !field.text.isEmpty {
            if let number = field.int ?? (field.quoted ? Int(field.text) : nil), result.cause == nil {
                result.cause = number
            } else if result.category == nil, ATText.uppercasedASCII(field.text).hasSuffix(" INFO") {
                result.category = field.text
            } else {
                texts.append(field.text)
            }
        }
        result.text = texts.isEmpty ? nil : texts.joined(separator: ", ")
        return result
    }
}
