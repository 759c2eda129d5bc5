/// One URI per port, as boards write them: `sim:`, `sim:route`, `tcp://127.0.0.1:7510`,
/// later `serial:/dev/ttyUSB2?baud=115200`, `gpsd://127.0.0.1:2947`, `alsa:hw:1,0`.
public struct PortURI: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    /// Everything after "scheme:" (and after "//" for host-based schemes) up to "?".
    public var target: String
    public var query: [String: String]

    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        scheme = String(text[..<colon])
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "+" }) else { return nil }
        var rest = text[text.index(after: colon)...]
        if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
        query = [:]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = parts.first, !key.isEmpty else { return nil }
                query[String(key)] = parts.count > 1 ? String(parts[1]) : ""
            }
            rest = rest[..<question]
        }
        target = String(rest)
    }

    /// `host:port` of a network target; IPv6 literals in brackets.
    public var hostAndPort: (host: String, port: UInt16)? {
        let text = target
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":"), let port = UInt16(after.dropFirst()) else { return nil }
            return (host, port)
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        let host = String(text[..<colon])
        return host.isEmpty ? nil : (host, port)
    }

    public var description: String {
        let q = query.isEmpty ? "" : "?" + query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        return "\(scheme):\(target)\(q)"
    }
}
