// +CLIP and +CCWA share their first fields: `"<number>",<type>,…`. Their query responses
// (AT+CLIP? → "+CLIP: <n>,<m>", AT+CCWA? → "+CCWA: <status>,<class>") share the prefix too, so the
// shape is what tells a caller identification from a settings report.
struct CallerIdentification: Hashable {
    var number: String?
    var type: Int?

    /// `validityIndex` is where <CLI validity> sits (5 in +CLIP, 4 in +CCWA); 1 withheld and 2 unavailable
    /// mean the number field, if any, is not the caller's.
    static func parse(_ payload: String, validityIndex: Int) -> CallerIdentification? {
        let fields = ATField.split(payload)
        guard looksLikeCaller(fields) else { return nil }
        let validity = fields.count > validityIndex ? fields[validityIndex].int : nil
        let number = validity == 1 || validity == 2 ? nil : fields[0].string
        return CallerIdentification(number: number, type: fields.count > 1 ? fields[1].int : nil)
    }

    /// A caller line has a quoted (possibly empty) or empty number first, or a type of address second, which
    /// always has bit 8 set (128…255); the query responses have two small bare integers instead.
    static func looksLikeCaller(_ fields: [ATField]) -> Bool {
        guard let first = fields.first else { return false }
        if first.quoted || first.isEmpty { return true }
        if fields.count > 1, let type = fields[1].int { return (128...255).contains(type) }
        return false
    }
}
