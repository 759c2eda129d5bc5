/// SMS-SUBMIT PDUs for AT+CMGS in PDU mode (3GPP TS 23.040 9.2.2.2, 23.038), and their
/// decoding for the modem emulator.
public enum SMSPDU {
    /// One PDU, or several with a concatenation UDH (IEI 0x00, 8-bit reference) when the text does not fit in one.
    /// GSM 7-bit default alphabet (with the extension table via ESC 0x1B) when every character is representable,
    /// otherwise UCS-2 (UTF-16BE, surrogate pairs never split across parts). At most 255 parts.
    ///
    /// `reference` should change from one multi-part message to the next, so that a phone never
    /// joins parts of two different messages. `validityMinutes` is rounded up to what the
    /// relative TP-VP can express; nil sends no validity period (the network default applies).
    public static func submit(to number: String, text: String, reference: UInt8,
                              validityMinutes: Int? = 1440) throws(SMSPDUError) -> [SMSSubmitPDU] {
        let address = try SMSAddress.encode(number)
        let validity = validityMinutes.map(RelativeValidityPeriod.encode(minutes:))
        return try SMSUserData.parts(for: text, reference: reference).map { part in
            var tpdu = [firstOctet(hasHeader: part.hasHeader, hasValidity: validity != nil)]
            // TP-MR 0: the modem replaces it with its own counter.
            tpdu.append(0x00)
            tpdu += address
            tpdu.append(0x00)  // TP-PID: plain short message, no interworking.
            tpdu.append(part.dataCodingScheme)
            if let validity {
                tpdu.append(validity)
            }
            tpdu.append(part.length)
            tpdu += part.octets
            // The leading 00 makes the modem use the SMSC stored on the SIM, which is right
            // for whichever operator's SIM is fitted.
            return SMSSubmitPDU(hex: "00" + SMSHex.encode(tpdu), tpduLength: tpdu.count)
        }
    }

    /// TP-MTI 01 (SMS-SUBMIT), TP-VPF 10 (relative) when a validity is given, TP-UDHI when a
    /// header is present. TP-RD, TP-SRR and TP-RP stay 0: the driver learns of acceptance from
    /// the +CMGS response, and a status report would arrive as unsolicited noise.
    static func firstOctet(hasHeader: Bool, hasValidity: Bool) -> UInt8 {
        0x01 | (hasValidity ? 0x10 : 0) | (hasHeader ? 0x40 : 0)
    }
}
