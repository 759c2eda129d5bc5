/// One comma-separated field of an AT response. Whether it was quoted matters: 27.007 quotes strings
/// (numbers, LACs) and leaves integers bare, which is what tells the ambiguous shapes apart.
struct ATField: Hashable {
    var text: String
    var quoted: Bool

    var isEmpty: Bool { text.isEmpty && !quoted }
    var int: Int? { quoted ? nil : Int(text) }
    /// A string field, or nil when absent or empty: 27.007 sends "" for a withheld number.
    var string: String? { text.isEmpty ? nil : text }
    var hex: Int? { ATText.isHexDigits(text) && text.count <= 15 ? Int(text, radix: 16) : nil }

    /// Splits at commas outside double quotes; quotes are removed and spaces around each field trimmed.
    static func split(_ payload: String) -> [ATField] {
        var fields: [ATField] = []
        var current = ""
        var inQuotes = false
        var sawQuote = false
        func finish() {
            let value = sawQuote ? current : ATText.trimmed(current)
            fields.append(ATField(text: value, quoted: sawQuote))
            current = ""
            sawQuote = false
        }
        for c in payload {
            if c == "\"" {
                // Text outside the quotes (stray spaces) is dropped so `"1A2B" ` reads as "1A2B".
                if !inQuotes { current = "" }
                inQuotes.toggle()
                sawQuote = true
            } else if c == "," && !inQuotes {
                finish()
            } else if inQuotes || !sawQuote {
                current.append(c)
            }
        }
        finish()
        return fields
    }
}
