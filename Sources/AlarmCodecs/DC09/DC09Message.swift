import AlarmCore

/// The addressing every DC-09 message carries: receiver, account prefix and account (hex digits, as the
/// receiving centre assigns them).
public struct DC09Account: Sendable, Hashable {
    /// 1–6 hex digits; nil leaves the `R` field out (receivers answer with `R0`).
    public var receiver: String?
    /// 1–6 hex digits (the `L` field, which receivers expect).
    public var prefix: String
    /// 3–16 hex digits.
    public var account: String

    public init(receiver: String?, prefix: String, account: String) {
        self.receiver = receiver
        self.prefix = prefix
        self.account = account
    }

    /// Nil when every field has the length and alphabet DC-09 allows; else the first problem.
    public var problem: String? {
        func hex(_ s: String) -> Bool { s.allSatisfy { $0.isHexDigit && $0.isASCII } }
        if let receiver, !(1...6).contains(receiver.count) || !hex(receiver) { return "receiver: expected 1-6 hex digits" }
        if !(1...6).contains(prefix.count) || !hex(prefix) { return "prefix: expected 1-6 hex digits" }
        if !(3...16).contains(account.count) || !hex(account) { return "account: expected 3-16 hex digits" }
        return nil
    }

    /// `R…L…#…` as it follows the sequence number.
    var header: String { (receiver.map { "R\($0)" } ?? "") + "L\(prefix)#\(account)" }
}

/// One unencrypted DC-09 message body: `"ID"SEQ R… L… #ACCT [data][xdata]…_timestamp`.
public struct DC09Message: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case siaDCS = "SIA-DCS"
        case contactID = "ADM-CID"
        case null = "NULL"
    }

    public var kind: Kind
    /// 1…9999.
    public var sequence: Int
    public var account: DC09Account
    /// What goes inside the first `[...]` (without the brackets), e.g. `#1234|NHA` or `#1234|1122 00 001`;
    /// empty for NULL.
    public var data: String
    /// Extended data blocks, each without its brackets, e.g. `X4.351721`.
    public var extended: [String]
    public var timestamp: WallTime?

    public init(kind: Kind, sequence: Int, account: DC09Account, data: String, extended: [String] = [], timestamp: WallTime?) {
        self.kind = kind
        self.sequence = sequence
        self.account = account
        self.data = data
        self.extended = extended
        self.timestamp = timestamp
    }

    /// The text before the first `[`: what stays in clear when the rest is encrypted.
    public func head(encrypted: Bool) -> String {
        "\"\(encrypted ? "*" : "")\(kind.rawValue)\"\(Self.four(sequence))\(account.header)"
    }

    /// The part from the first `[` to the end of the timestamp: what encryption covers.
    public var tail: String {
        "[\(data)]" + extended.map { "[\($0)]" }.joined() + (timestamp.map(DC09Timestamp.format) ?? "")
    }

    /// The unencrypted body.
    public var body: [UInt8] { Array((head(encrypted: false) + tail).utf8) }

    static func four(_ n: Int) -> String {
        let text = String(n)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }
}

/// A receiver's answer to one message.
public struct DC09Response: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case ack = "ACK"
        case nak = "NAK"
        /// "Unable to handle": final for that frame.
        case duh = "DUH"
    }

    public var kind: Kind
    public var encrypted: Bool
    public var sequence: Int
    /// A NAK carries the receiver's clock: how the device learns that its own clock is off.
    public var timestamp: WallTime?

    public init(kind: Kind, encrypted: Bool, sequence: Int, timestamp: WallTime?) {
        self.kind = kind
        self.encrypted = encrypted
        self.sequence = sequence
        self.timestamp = timestamp
    }

    /// Parses a checked body (see `DC09Frame.unwrap`). Encrypted ACKs keep their encrypted tail unread here:
    /// matching by sequence needs only the clear head.
    public static func parse(_ body: [UInt8]) -> DC09Response? {
        let text = String(decoding: body, as: UTF8.self)
        guard text.first == "\"", let close = text.dropFirst().firstIndex(of: "\"") else { return nil }
        var id = text[text.index(after: text.startIndex)..<close]
        let encrypted = id.first == "*"
        if encrypted { id = id.dropFirst() }
        guard let kind = Kind(rawValue: String(id)) else { return nil }
        let rest = text[text.index(after: close)...]
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard digits.count == 4, let sequence = Int(digits) else { return nil }
        var timestamp: WallTime?
        if !encrypted, let underscore = rest.lastIndex(of: "_") {
            timestamp = DC09Timestamp.parse(rest[underscore...])
        }
        return DC09Response(kind: kind, encrypted: encrypted, sequence: sequence, timestamp: timestamp)
    }
}
