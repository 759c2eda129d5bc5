/// A packet-domain event (27.007 +CGEV, reported after AT+CGEREP=2,1): what the network or the modem did to
/// the data connection. Only the shapes the driver acts on are told apart; the rest stay `other`.
public enum PacketDomainEvent: Sendable, Hashable {
    /// A PDN connection (PDP context) came up; `cid` when the line names it.
    case activated(cid: Int?)
    /// A PDN connection went down (network or modem side); nil `cid` when the old form names no context.
    case deactivated(cid: Int?)
    /// Detached from the packet domain: every context is gone.
    case detached
    case other(String)

    /// The payload after "+CGEV: ".
    public static func parse(_ payload: String) -> PacketDomainEvent {
        let text = ATText.trimmed(payload)
        let upper = ATText.uppercasedASCII(text)
        let words = upper.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard words.count >= 2, words[0] == "NW" || words[0] == "ME" else { return .other(text) }
        if words[1] == "DETACH" { return .detached }
        // "NW PDN DEACT <cid>[,…]" / "ME PDN ACT <cid>[,…]" (LTE forms).
        if words[1] == "PDN", words.count >= 3, words[2] == "DEACT" || words[2] == "ACT" {
            let cid = words.count >= 4 ? ATField.split(String(words[3])).first?.int : nil
            return words[2] == "DEACT" ? .deactivated(cid: cid) : .activated(cid: cid)
        }
        // "NW DEACT <PDP_type>,<PDP_addr>[,<cid>]" (the 2G/3G form).
        if words[1] == "DEACT" {
            let rest = words.count >= 3 ? words[2...].joined(separator: " ") : ""
            let fields = ATField.split(rest)
            return .deactivated(cid: fields.count >= 3 ? fields[2].int : nil)
        }
        return .other(text)
    }
}

/// One line of AT+CGACT? ("+CGACT: <cid>,<state>").
public struct PDPContextState: Sendable, Hashable {
    public var cid: Int
    public var active: Bool

    public init(cid: Int, active: Bool) {
        self.cid = cid
        self.active = active
    }

    public static func parse(_ line: String) -> PDPContextState? {
        guard let payload = ATText.payload(of: line, named: "+CGACT") else { return nil }
        let fields = ATField.split(payload)
        guard fields.count >= 2, let cid = fields[0].int, let state = fields[1].int, state == 0 || state == 1 else { return nil }
        return PDPContextState(cid: cid, active: state == 1)
    }
}

/// One line of AT+CGPADDR ("+CGPADDR: <cid>[,<PDP_addr_1>[,<PDP_addr_2>]]"); addresses as the modem writes them.
public struct PDPAddress: Sendable, Hashable {
    public var cid: Int
    public var addresses: [String]

    public init(cid: Int, addresses: [String]) {
        self.cid = cid
        self.addresses = addresses
    }

    public static func parse(_ line: String) -> PDPAddress? {
        guard let payload = ATText.payload(of: line, named: "+CGPADDR") else { return nil }
        let fields = ATField.split(payload)
        guard let cid = fields.first?.int else { return nil }
        // "0.0.0.0" is what some modems answer for a context without an address.
        let addresses = fields.dropFirst().compactMap(\.string).filter { $0 != "0.0.0.0" && $0 != "0" }
        return PDPAddress(cid: cid, addresses: addresses)
    }
}
