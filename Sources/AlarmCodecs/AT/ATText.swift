// Small string helpers shared by the AT parsers; Foundation is not available in the pure layers.
enum ATText {
    static func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }

    static func trimmed<S: StringProtocol>(_ s: S) -> String {
        guard let first = s.firstIndex(where: { !isBlank($0) }),
              let last = s.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(s[first...last])
    }

    /// Modems answer in upper case, but a lower-case spelling is harmless to accept and costs nothing.
    static func uppercasedASCII<S: StringProtocol>(_ s: S) -> String {
        String(decoding: s.utf8.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    /// Splits "+NAME: payload" into its name ("+NAME", as on the wire) and trimmed payload.
    /// Returns nil when the line is not of that shape, so bare words like "OK" never look like information responses.
    static func informationResponse(_ line: String) -> (name: String, payload: String)? {
        let line = trimmed(line)
        guard line.first == "+", let colon = line.firstIndex(of: ":") else { return nil }
        let name = trimmed(line[..<colon])
        guard name.count > 1, !name.contains(where: { $0 == "\"" || $0 == "," }) else { return nil }
        return (uppercasedASCII(name), trimmed(line[line.index(after: colon)...]))
    }

    /// The payload of `line` when it starts with `name` (e.g. "+CSQ"), compared without regard to case.
    static func payload(of line: String, named name: String) -> String? {
        guard let response = informationResponse(line), response.name == name else { return nil }
        return response.payload
    }

    static func isDigits<S: StringProtocol>(_ s: S) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isNumber } }
    static func isHexDigits<S: StringProtocol>(_ s: S) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isHexDigit } }
}
