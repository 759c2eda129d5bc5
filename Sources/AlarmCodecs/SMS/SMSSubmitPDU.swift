/// One SMS-SUBMIT ready for AT+CMGS in PDU mode (AT+CMGF=0).
public struct SMSSubmitPDU: Sendable, Hashable {
    /// Uppercase hex of the whole PDU including the leading SMSC part "00" (use the SIM's SMSC).
    public var hex: String
    /// Octets of the TPDU without the SMSC part: the <length> of AT+CMGS=<length>.
    /// The modem counts only the TPDU, so a length that included the SMSC octet would make it
    /// wait for one more octet than is ever sent.
    public var tpduLength: Int

    public init(hex: String, tpduLength: Int) {
        self.hex = hex
        self.tpduLength = tpduLength
    }
}
