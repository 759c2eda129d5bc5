/// `+CMGS: <mr>[,<scts>|<ackpdu>]`, what AT+CMGS answers once the network accepted the SMS.
public struct MessageReference: Sendable, Hashable {
    /// 0…255; matches a later status report (+CDS) to this message.
    public var value: Int

    public init(_ value: Int) { self.value = value }

    public static func parse(_ line: String) -> MessageReference? {
        guard let payload = ATText.payload(of: line, named: "+CMGS"),
              let value = ATField.split(payload).first?.int, (0...255).contains(value) else { return nil }
        return MessageReference(value)
    }
}
