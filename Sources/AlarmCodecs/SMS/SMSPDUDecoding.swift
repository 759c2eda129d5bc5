import AlarmCore

extension SMSPDU {
    /// Decodes a PDU as produced above (with the SMSC part "00" or with an SMSC address).
    ///
    /// Strict where the driver could be wrong (lengths that disagree, a split escape pair, a
    /// lone surrogate), because the emulator exists to catch exactly that; lenient about
    /// fields the driver does not control (TP-MR, TP-PID, the validity period's value).
    public static func decodeSubmit(hex: String) throws(SMSPDUError) -> Decoded {
        var reader = SMSOctetReader(try SMSHex.decode(hex))
        let smscLength = try reader.octet("SMSC length")
        _ = try reader.octets(Int(smscLength), "SMSC address")

        let first = try reader.octet("first octet")
        guard first & 0x03 == 0x01 else {
            throw .malformed("TP-MTI \(first & 0x03) is not SMS-SUBMIT")
        }
        _ = try reader.octet("TP-MR")

        let digitCount = Int(try reader.octet("destination address length"))
        guard digitCount <= SMSAddress.maximumDigits else {
            throw .malformed("destination address of \(digitCount) digits")
        }
        let typeOfAddress = try reader.octet("destination type of address")
        let addressOctets = try reader.octets((digitCount + 1) / 2, "destination address")
        let number = try SMSAddress.decode(digitCount: digitCount, typeOfAddress: typeOfAddress, octets: addressOctets)

        _ = try reader.octet("TP-PID")
        let coding = try TextCoding(dataCodingScheme: reader.octet("TP-DCS"))
        switch (first >> 3) & 0x03 {
        case 0b10: _ = try reader.octets(1, "relative TP-VP")
        case 0b01, 0b11: _ = try reader.octets(7, "enhanced or absolute TP-VP")
        default: break
        }
        let userDataLength = Int(try reader.octet("TP-UDL"))
        let userData = Array(reader.remaining())
        let hasHeader = first & 0x40 != 0

        switch coding {
        case .gsm7:
            return try decodeGSM7(userData, septets: userDataLength, hasHeader: hasHeader, number: number)
        case .ucs2:
            return try decodeUCS2(userData, octets: userDataLength, hasHeader: hasHeader, number: number)
        }
    }

    fileprivate enum TextCoding {
        case gsm7, ucs2

        /// 3GPP TS 23.038 section 4. 8-bit data and compressed text are not text this decoder
        /// can return, and the driver never sends them.
        init(dataCodingScheme dcs: UInt8) throws(SMSPDUError) {
            let alphabet: UInt8
            switch dcs >> 4 {
            case 0b0000...0b0111:
                guard dcs & 0x20 == 0 else { throw .malformed("compressed text (TP-DCS \(dcs))") }
                alphabet = (dcs >> 2) & 0x03
            case 0b1100, 0b1101: alphabet = 0
            case 0b1110: alphabet = 2
            case 0b1111: alphabet = (dcs >> 2) & 0x01
            default: throw .malformed("reserved TP-DCS \(dcs)")
            }
            switch alphabet {
            case 0: self = .gsm7
            case 2: self = .ucs2
            default: throw .malformed("TP-DCS \(dcs) is not GSM 7-bit or UCS-2 text")
            }
        }
    }

    fileprivate static func decodeGSM7(_ userData: [UInt8], septets: Int, hasHeader: Bool,
                                   number: String) throws(SMSPDUError) -> Decoded {
        // The UDL, not the octet count, says how many septets there are: with 7 spare bits the
        // last octet would otherwise yield an extra septet (an '@' if zero, CR if CR-padded).
        guard userData.count == (septets * 7 + 7) / 8 else {
            throw .malformed("\(userData.count) user data octets for \(septets) septets")
        }
        let allSeptets = try SeptetPacking.unpack(userData, count: septets)
        guard hasHeader else {
            return Decoded(number: number, text: try GSMAlphabet.decode(allSeptets))
        }
        let header = try userDataHeader(userData)
        let headerSeptets = SeptetPacking.septetCount(ofHeaderOctets: header.octets)
        guard headerSeptets <= septets else {
            throw .malformed("user data header longer than TP-UDL")
        }
        return Decoded(number: number, text: try GSMAlphabet.decode(allSeptets[headerSeptets...]),
                       concatenation: header.concatenation)
    }

    fileprivate static func decodeUCS2(_ userData: [UInt8], octets: Int, hasHeader: Bool,
                                   number: String) throws(SMSPDUError) -> Decoded {
        guard userData.count == octets else {
            throw .malformed("\(userData.count) user data octets, TP-UDL says \(octets)")
        }
        let header = hasHeader ? try userDataHeader(userData) : (octets: 0, concatenation: nil)
        let body = userData[header.octets...]
        guard body.count % 2 == 0 else {
            throw .malformed("UCS-2 text of an odd number of octets")
        }
        let units = stride(from: body.startIndex, to: body.endIndex, by: 2).map {
            UInt16(body[$0]) << 8 | UInt16(body[$0 + 1])
        }
        guard let text = String(validating: units, as: UTF16.self) else {
            throw .malformed("UCS-2 text with an unpaired surrogate")
        }
        return Decoded(number: number, text: text, concatenation: header.concatenation)
    }

    /// The header's size in octets (its length octet included) and the concatenation element if
    /// present. Other elements (ports, national language tables…) are skipped: the driver
    /// never sends them, and their absence does not change how the text decodes here.
    private static func userDataHeader(_ userData: [UInt8]) throws(SMSPDUError) -> (octets: Int, concatenation: Concatenation?) {
        guard let headerLength = userData.first, Int(headerLength) < userData.count else {
            throw .malformed("user data header longer than the user data")
        }
        let end = Int(headerLength) + 1
        var concatenation: Concatenation?
        var index = 1
        while index < end {
            guard index + 2 <= end, index + 2 + Int(userData[index + 1]) <= end else {
                throw .malformed("information element overruns the user data header")
            }
            let identifier = userData[index]
            let data = userData[(index + 2)..<(index + 2 + Int(userData[index + 1]))].map(Int.init)
            switch (identifier, data.count) {
            case (0x00, 3):
                concatenation = Concatenation(reference: data[0], total: data[1], sequence: data[2])
            case (0x08, 4):
                concatenation = Concatenation(reference: data[0] << 8 | data[1], total: data[2], sequence: data[3])
            default:
                break
            }
            index += 2 + data.count
        }
        return (end, concatenation)
    }
}

extension SMSPDU {
    /// Decodes an SMS-DELIVER PDU as AT+CMGR returns it in PDU mode (SMSC part first): the sender and the text of
    /// this part. Fields the network sets and the device does not need (TP-PID, the service centre time) are skipped.
    public static func decodeDeliver(hex: String) throws(SMSPDUError) -> Decoded {
        var reader = SMSOctetReader(try SMSHex.decode(hex))
        let smscLength = try reader.octet("SMSC length")
        _ = try reader.octets(Int(smscLength), "SMSC address")
        let first = try reader.octet("first octet")
        guard first & 0x03 == 0x00 else {
            throw .malformed("TP-MTI \(first & 0x03) is not SMS-DELIVER")
        }
        let digitCount = Int(try reader.octet("originating address length"))
        guard digitCount <= SMSAddress.maximumDigits else {
            throw .malformed("originating address of \(digitCount) digits")
        }
        let typeOfAddress = try reader.octet("originating type of address")
        let addressOctets = try reader.octets((digitCount + 1) / 2, "originating address")
        // An alphanumeric sender (TON 101) cannot be a centre number: it is reported as text the caller rejects.
        let number: String
        if (typeOfAddress >> 4) & 0x07 == 0b101 {
            number = "alphanumeric"
        } else {
            number = try SMSAddress.decode(digitCount: digitCount, typeOfAddress: typeOfAddress, octets: addressOctets)
        }
        _ = try reader.octet("TP-PID")
        let coding = try TextCoding(dataCodingScheme: reader.octet("TP-DCS"))
        _ = try reader.octets(7, "TP-SCTS")
        let userDataLength = Int(try reader.octet("TP-UDL"))
        let userData = Array(reader.remaining())
        let hasHeader = first & 0x40 != 0
        switch coding {
        case .gsm7:
            return try decodeGSM7(userData, septets: userDataLength, hasHeader: hasHeader, number: number)
        case .ucs2:
            return try decodeUCS2(userData, octets: userDataLength, hasHeader: hasHeader, number: number)
        }
    }

    /// SMS-DELIVER PDUs, as a network delivers them to the modem (for the emulator and tests): one per part.
    /// `timestamp` is the service centre time stamp (UTC, zone 00).
    public static func deliver(from number: String, text: String, timestamp: WallTime, reference: UInt8 = 0) throws(SMSPDUError) -> [String] {
        let address = try SMSAddress.encode(number)
        let c = CivilTime(millisecondsSince1970: timestamp.millisecondsSince1970)
        func semiOctets(_ value: Int) -> UInt8 { UInt8((value % 10) << 4 | (value / 10 % 10)) }
        let stamp = [c.year % 100, c.month, c.day, c.hour, c.minute, c.second].map(semiOctets) + [0x00]
        return try SMSUserData.parts(for: text, reference: reference).map { part in
            var tpdu: [UInt8] = [0x04 | (part.hasHeader ? 0x40 : 0)]  // SMS-DELIVER, no more messages to send
            tpdu += address
            tpdu.append(0x00)
            tpdu.append(part.dataCodingScheme)
            tpdu += stamp
            tpdu.append(part.length)
            tpdu += part.octets
            return "00" + SMSHex.encode(tpdu)
        }
    }
}
