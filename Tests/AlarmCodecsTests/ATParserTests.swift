import AlarmCodecs
import AlarmCore
import Testing

@Suite struct ATFinalResultTests {
    @Test func plainResults() {
        #expect(ATFinalResult.parse("OK") == .ok)
        #expect(ATFinalResult.parse(" OK ") == .ok)
        #expect(ATFinalResult.parse("ERROR") == .error)
        #expect(ATFinalResult.parse("NO CARRIER") == .noCarrier)
        #expect(ATFinalResult.parse("BUSY") == .busy)
        #expect(ATFinalResult.parse("NO ANSWER") == .noAnswer)
        #expect(ATFinalResult.parse("NO DIALTONE") == .noDialtone)
        #expect(ATFinalResult.parse("CONNECT") == .connect)
        #expect(ATFinalResult.parse("CONNECT 115200") == .connect)
        #expect(ATFinalResult.parse("+CSQ: 21,99") == nil)
        #expect(ATFinalResult.parse("RING") == nil)
        #expect(ATFinalResult.parse("OKAY") == nil)
        #expect(ATFinalResult.parse("AT") == nil)
    }

    @Test func equipmentAndMessageErrors() {
        #expect(ATFinalResult.parse("+CME ERROR: 10") == .cmeError(code: 10, text: "10"))
        #expect(ATFinalResult.parse("+CME ERROR: SIM not inserted") == .cmeError(code: nil, text: "SIM not inserted"))
        #expect(ATFinalResult.parse("+CME ERROR: 516") == .cmeError(code: 516, text: "516"))
        #expect(ATFinalResult.parse("+CMS ERROR: 500") == .cmsError(code: 500, text: "500"))
        #expect(ATFinalResult.parse("+CMS ERROR: unknown error") == .cmsError(code: nil, text: "unknown error"))
        #expect(ATFinalResult.parse("+CME ERROR: \"operation not allowed\"")
                == .cmeError(code: nil, text: "operation not allowed"))
    }

    @Test func success() {
        #expect(ATFinalResult.ok.isSuccess)
        #expect(ATFinalResult.connect.isSuccess)
        #expect(!ATFinalResult.error.isSuccess)
        #expect(!ATFinalResult.noCarrier.isSuccess)
        #expect(!ATFinalResult.cmeError(code: 10, text: "10").isSuccess)
    }
}

@Suite struct ATUnsolicitedTests {
    @Test func callRelated() {
        #expect(ATUnsolicited.parse("RING") == .ring)
        #expect(ATUnsolicited.parse("+CRING: VOICE") == .ring)
        #expect(ATUnsolicited.parse("+CRING: ASYNC") == .vendor(name: "+CRING", payload: "ASYNC"))
        #expect(ATUnsolicited.parse("+CLIP: \"+32470123456\",145,,,,0") == .clip(number: "+32470123456", type: 145))
        #expect(ATUnsolicited.parse("+CLIP: \"\",128,,,,1") == .clip(number: nil, type: 128))
        #expect(ATUnsolicited.parse("+CLIP: \"0470123456\",129,\"\",,\"\",0") == .clip(number: "0470123456", type: 129))
        #expect(ATUnsolicited.parse("+CLIP: ,128") == .clip(number: nil, type: 128))
        #expect(ATUnsolicited.parse("+CLIP: \"+32470123456\",145,,,,1") == .clip(number: nil, type: 145))
        #expect(ATUnsolicited.parse("+CCWA: \"+32470999888\",145,1") == .callWaiting(number: "+32470999888", type: 145))
        #expect(ATUnsolicited.parse("+CCWA: \"\",128,1,,2") == .callWaiting(number: nil, type: 128))
        #expect(ATUnsolicited.parse("NO CARRIER") == .noCarrier)
        #expect(ATUnsolicited.parse("+CLCC: 1,1,4,0,0,\"+32470123456\",145")
                == .callList(CallListEntry(index: 1, direction: .incoming, state: .incoming,
                                           number: "+32470123456", type: 145)))
    }

    @Test func settingsReportsAreNotCallerLines() {
        // AT+CLIP? and AT+CCWA? answer with the same prefix; they must not look like a caller.
        #expect(ATUnsolicited.parse("+CLIP: 1,1") == nil)
        #expect(ATUnsolicited.parse("+CCWA: 0,1") == nil)
        #expect(!ATUnsolicited.isAlwaysUnsolicited("+CLIP: 1,1"))
        #expect(!ATUnsolicited.isAlwaysUnsolicited("+CCWA: 0,1"))
        #expect(ATUnsolicited.isAlwaysUnsolicited("+CLIP: \"+32470123456\",145,,,,0"))
        #expect(ATUnsolicited.isAlwaysUnsolicited("+CCWA: \"+32470999888\",145,1"))
    }

    @Test func networkSIMAndMessages() {
        #expect(ATUnsolicited.parse("+CREG: 5") == .registration(RegistrationReport(
            domain: .circuitSwitched, registration: .roaming, status: 5)))
        #expect(ATUnsolicited.parse("+CEREG: 1,\"0C4E\",\"0177A20B\",7") == .registration(RegistrationReport(
            domain: .eps, registration: .home, status: 1, areaCode: 0x0C4E, cellID: 0x0177A20B, accessTechnology: 7)))
        #expect(ATUnsolicited.parse("+CMTI: \"SM\",3") == .newMessage(storage: "SM", index: 3))
        #expect(ATUnsolicited.parse("+CMTI: \"ME\",12") == .newMessage(storage: "ME", index: 12))
        #expect(ATUnsolicited.parse("+CPIN: NOT INSERTED") == .simState("NOT INSERTED"))
        #expect(ATUnsolicited.parse("+CPIN: READY") == .simState("READY"))
        #expect(ATUnsolicited.parse("RDY") == .ready)
    }

    @Test func vendorLines() {
        #expect(ATUnsolicited.parse("+QIND: SMS DONE") == .vendor(name: "+QIND", payload: "SMS DONE"))
        #expect(ATUnsolicited.parse("+QIND: \"csq\",21,99") == .vendor(name: "+QIND", payload: "\"csq\",21,99"))
        #expect(ATUnsolicited.parse("SMS DONE") == .vendor(name: "SMS DONE", payload: ""))
        #expect(ATUnsolicited.parse("PB DONE") == .vendor(name: "PB DONE", payload: ""))
        #expect(ATUnsolicited.parse("POWERED DOWN") == .vendor(name: "POWERED DOWN", payload: ""))
        #expect(ATUnsolicited.parse("+CFUN: 1") == .vendor(name: "+CFUN", payload: "1"))
    }

    @Test func linesThatCannotBeURCs() {
        for line in ["OK", "ERROR", "BUSY", "+CME ERROR: 10", "+CMS ERROR: 500", "AT+CSQ", "867698041234567",
                     "0011000B911032547698F0", "", "+CREG: x", "+CMTI: \"SM\""] {
            #expect(ATUnsolicited.parse(line) == nil, "\(line)")
        }
    }

    @Test func alwaysUnsolicited() {
        for line in ["RING", "RDY", "+CRING: VOICE", "+CMTI: \"SM\",3", "+QIND: SMS DONE", "+QUSIM: 1",
                     "SMS DONE", "PB DONE", "POWERED DOWN"] {
            #expect(ATUnsolicited.isAlwaysUnsolicited(line), "\(line)")
        }
        for line in ["OK", "NO CARRIER", "+CREG: 1", "+CREG: 1,\"1A2B\",\"00C3F2A1\",7", "+CPIN: READY",
                     "+CLCC: 1,0,2,0,0,\"+3292000101\",145", "+CSQ: 21,99", "+CFUN: 1", "AT+CSQ"] {
            #expect(!ATUnsolicited.isAlwaysUnsolicited(line), "\(line)")
        }
    }
}

@Suite struct CallListEntryTests {
    @Test func dialingVoiceCall() {
        #expect(CallListEntry.parse("+CLCC: 1,0,2,0,0,\"+3292000101\",145")
                == CallListEntry(index: 1, direction: .outgoing, state: .dialing, isVoice: true, multiparty: false,
                                 number: "+3292000101", type: 145))
    }

    @Test func emptyNumberFieldsAndTrailingFields() {
        #expect(CallListEntry.parse("+CLCC: 2,1,4,0,0,\"\",128")
                == CallListEntry(index: 2, direction: .incoming, state: .incoming, number: nil, type: 128))
        #expect(CallListEntry.parse("+CLCC: 2,1,4,0,0,,")
                == CallListEntry(index: 2, direction: .incoming, state: .incoming, number: nil, type: nil))
        #expect(CallListEntry.parse("+CLCC: 1,1,0,0,0")
                == CallListEntry(index: 1, direction: .incoming, state: .active))
        #expect(CallListEntry.parse("+CLCC: 1,0,0,0,1,\"112\",129,\"Police\",0,0")
                == CallListEntry(index: 1, direction: .outgoing, state: .active, multiparty: true,
                                 number: "112", type: 129))
        #expect(CallListEntry.parse("+CLCC: 1, 0, 3, 0, 0, \"+3292000101\", 145")?.state == .alerting)
    }

    @Test func dataCallIsNotVoice() throws {
        let entry = try #require(CallListEntry.parse("+CLCC: 3,1,4,1,0,\"+32470123456\",145"))
        #expect(!entry.isVoice)
        #expect(try #require(CallListEntry.parse("+CLCC: 3,1,4,2,0,,")).isVoice == false)
    }

    @Test func vendorEndedState() {
        #expect(CallListEntry.parse("+CLCC: 1,0,6,0,0,\"+3292000101\",145")?.state == .ended)
    }

    @Test func malformed() {
        #expect(CallListEntry.parse("+CLCC: 1,0,7,0,0") == nil)
        #expect(CallListEntry.parse("+CLCC: 1,2,0,0,0") == nil)
        #expect(CallListEntry.parse("+CLCC: ,0,0,0,0") == nil)
        #expect(CallListEntry.parse("+CLCC: 1,0,0") == nil)
        #expect(CallListEntry.parse("+CLIP: 1,0,2,0,0") == nil)
    }
}

@Suite struct RegistrationReportTests {
    func report(_ domain: RegistrationReport.Domain, _ registration: Registration, _ status: Int,
                _ area: Int? = nil, _ cell: Int? = nil, _ act: Int? = nil) -> RegistrationReport {
        RegistrationReport(domain: domain, registration: registration, status: status, areaCode: area, cellID: cell,
                           accessTechnology: act)
    }

    @Test func statusOnly() {
        #expect(RegistrationReport.parse("+CREG: 1", solicited: nil) == report(.circuitSwitched, .home, 1))
        #expect(RegistrationReport.parse("+CGREG: 2", solicited: false) == report(.packet, .searching, 2))
        #expect(RegistrationReport.parse("+CEREG: 3", solicited: nil) == report(.eps, .denied, 3))
        #expect(RegistrationReport.parse("+CREG: 0", solicited: nil) == report(.circuitSwitched, .notRegistered, 0))
        #expect(RegistrationReport.parse("+CREG: 4", solicited: nil) == report(.circuitSwitched, .unknown, 4))
    }

    @Test func solicitedNAndStatus() {
        #expect(RegistrationReport.parse("+CREG: 0,5", solicited: true) == report(.circuitSwitched, .roaming, 5))
        #expect(RegistrationReport.parse("+CREG: 2,1", solicited: nil) == report(.circuitSwitched, .home, 1))
        #expect(RegistrationReport.parse("+CEREG: 2,3", solicited: nil) == report(.eps, .denied, 3))
    }

    @Test func unsolicitedWithLocation() {
        let expected = report(.circuitSwitched, .home, 1, 0x1A2B, 0x00C3_F2A1, 7)
        for line in ["+CREG: 1,\"1A2B\",\"00C3F2A1\",7", "+CREG: 1,1A2B,00C3F2A1,7", "+CREG: 1, \"1A2B\", \"00C3F2A1\", 7",
                     "+CREG:1,\"1a2b\",\"00c3f2a1\",7"] {
            #expect(RegistrationReport.parse(line, solicited: nil) == expected, "\(line)")
            #expect(RegistrationReport.parse(line, solicited: false) == expected, "\(line)")
        }
        #expect(RegistrationReport.parse("+CREG: 5,\"1A2B\",\"3F2A1\"", solicited: nil)
                == report(.circuitSwitched, .roaming, 5, 0x1A2B, 0x3F2A1))
    }

    @Test func solicitedWithLocation() {
        let expected = report(.circuitSwitched, .home, 1, 0x1A2B, 0x00C3_F2A1, 7)
        for line in ["+CREG: 2,1,\"1A2B\",\"00C3F2A1\",7", "+CREG: 2, 1, \"1A2B\", \"00C3F2A1\", 7",
                     "+CREG: 2,1,1A2B,00C3F2A1,7"] {
            #expect(RegistrationReport.parse(line, solicited: nil) == expected, "\(line)")
            #expect(RegistrationReport.parse(line, solicited: true) == expected, "\(line)")
        }
        #expect(RegistrationReport.parse("+CREG: 2,5,\"1A2B\",\"00C3F2A1\"", solicited: nil)
                == report(.circuitSwitched, .roaming, 5, 0x1A2B, 0x00C3_F2A1))
    }

    @Test func ambiguousFourFieldLines() {
        // "<stat>,<lac>,<ci>,<AcT>" versus "<n>,<stat>,<lac>,<ci>": the position of the LAC decides.
        #expect(RegistrationReport.parse("+CGREG: 1,\"0C4E\",\"0177A20B\",7", solicited: nil)
                == report(.packet, .home, 1, 0x0C4E, 0x0177_A20B, 7))
        #expect(RegistrationReport.parse("+CGREG: 2,1,\"0C4E\",\"0177A20B\"", solicited: nil)
                == report(.packet, .home, 1, 0x0C4E, 0x0177_A20B))
        // Bare short hex with a letter still reads as an area code.
        #expect(RegistrationReport.parse("+CREG: 2,1,C3,1F", solicited: nil)
                == report(.circuitSwitched, .home, 1, 0xC3, 0x1F))
        // Nothing looks like an area code: taken as the unsolicited shape.
        #expect(RegistrationReport.parse("+CREG: 1,12,34,0", solicited: nil)
                == report(.circuitSwitched, .home, 1, 0x12, 0x34, 0))
        // The engine's knowledge wins over the heuristic.
        #expect(RegistrationReport.parse("+CREG: 1,5,12,34", solicited: true)
                == report(.circuitSwitched, .roaming, 5, 0x12, 0x34))
    }

    @Test func packetDomainWithRAC() {
        #expect(RegistrationReport.parse("+CGREG: 5,\"0C4E\",\"0177A20B\",2,\"05\"", solicited: nil)
                == report(.packet, .roaming, 5, 0x0C4E, 0x0177_A20B, 2))
        #expect(RegistrationReport.parse("+CGREG: 2,5,\"0C4E\",\"0177A20B\",2,\"05\"", solicited: nil)
                == report(.packet, .roaming, 5, 0x0C4E, 0x0177_A20B, 2))
    }

    @Test func epsWithExtraFields() {
        let home = report(.eps, .home, 1, 0x0C4E, 0x0177_A20B, 7)
        #expect(RegistrationReport.parse("+CEREG: 2,1,\"0C4E\",\"0177A20B\",7", solicited: true) == home)
        #expect(RegistrationReport.parse("+CEREG: 1,\"0C4E\",\"0177A20B\",7,,", solicited: nil) == home)
        #expect(RegistrationReport.parse("+CEREG: 4,1,\"0C4E\",\"0177A20B\",7,,,\"00100100\",\"01000111\"", solicited: nil)
                == home)
        // Denied with <cause_type>,<reject_cause> (n=3).
        #expect(RegistrationReport.parse("+CEREG: 3,3,\"0C4E\",\"0177A20B\",7,0,15", solicited: true)
                == report(.eps, .denied, 3, 0x0C4E, 0x0177_A20B, 7))
        #expect(RegistrationReport.parse("+CEREG: 3,\"0C4E\",\"0177A20B\",7,0,15", solicited: nil)
                == report(.eps, .denied, 3, 0x0C4E, 0x0177_A20B, 7))
        // Searching with the location fields left empty.
        #expect(RegistrationReport.parse("+CEREG: 2,2,\"\",\"\",", solicited: nil) == report(.eps, .searching, 2))
        #expect(RegistrationReport.parse("+CEREG: 2,,,", solicited: false) == report(.eps, .searching, 2))
    }

    @Test func restrictedStatuses() {
        #expect(RegistrationReport.parse("+CEREG: 6", solicited: false)?.registration == .home)
        #expect(RegistrationReport.parse("+CEREG: 7", solicited: false)?.registration == .roaming)
        #expect(RegistrationReport.parse("+CEREG: 8", solicited: false)?.registration == .notRegistered)
        #expect(RegistrationReport.parse("+CEREG: 8", solicited: false)?.status == 8)
    }

    @Test func malformed() {
        #expect(RegistrationReport.parse("+CREG: (0-2)", solicited: nil) == nil)
        #expect(RegistrationReport.parse("+CREG: 9,1", solicited: true) == nil)
        #expect(RegistrationReport.parse("+CSQ: 1", solicited: nil) == nil)
        #expect(RegistrationReport.parse("CREG: 1", solicited: nil) == nil)
        #expect(RegistrationReport.parse("+CREG: ", solicited: nil) == nil)
    }
}

@Suite struct ATResponseLineTests {
    @Test func signalQuality() {
        #expect(SignalQuality.parse("+CSQ: 21,99") == SignalQuality(rssi: 21, bitErrorRate: nil))
        #expect(SignalQuality.parse("+CSQ: 21,99")?.dBm == -71)
        #expect(SignalQuality.parse("+CSQ: 99,99") == SignalQuality(rssi: nil, bitErrorRate: nil))
        #expect(SignalQuality.parse("+CSQ: 99,99")?.dBm == nil)
        #expect(SignalQuality.parse("+CSQ: 0,3") == SignalQuality(rssi: 0, bitErrorRate: 3))
        #expect(SignalQuality.parse("+CSQ: 31,0")?.dBm == -51)
        #expect(SignalQuality.parse("+CSQ:") == nil)
        #expect(SignalQuality.parse("+CESQ: 99,99,255,255,20,50") == nil)
    }

    @Test func operatorName() throws {
        #expect(Operator.parse("+COPS: 0,0,\"Proximus\",7")
                == Operator(mode: 0, format: 0, name: "Proximus", accessTechnology: 7))
        #expect(Operator.parse("+COPS: 0") == Operator(mode: 0))
        let numeric = try #require(Operator.parse("+COPS: 0,2,\"20601\",7"))
        #expect(numeric.mcc == 206 && numeric.mnc == 1 && numeric.numericCode == "20601")
        #expect(Operator.parse("+COPS: 0,0,\"Proximus\",7")?.numericCode == nil)
        #expect(Operator.parse("+COPS: 1,2,\"310260\",2")?.mnc == 260)
        #expect(Operator.parse("+COPS: (2,\"Proximus\",\"PROXI\",\"20601\",7),,(0-4),(0-2)") == nil)
    }

    @Test func callEndCauses() {
        let text = CallEndCause.parse("+CEER: \"Normal call clearing\"")
        #expect(text == CallEndCause(cause: nil, text: "Normal call clearing"))
        #expect(text?.reason == .normalClearing)
        #expect(CallEndCause.parse("+CEER: 16") == CallEndCause(cause: 16))
        #expect(CallEndCause.parse("+CEER: 16")?.reason == .normalClearing)
        let quectel = CallEndCause.parse("+CEER: \"CC INFO\",16")
        #expect(quectel == CallEndCause(cause: 16, text: nil, category: "CC INFO"))
        #expect(quectel?.reason == .normalClearing)
        let both = CallEndCause.parse("+CEER: 16,\"Normal call clearing\"")
        #expect(both == CallEndCause(cause: 16, text: "Normal call clearing"))
        #expect(CallEndCause.parse("+CEER: 17")?.reason == .busy)
        #expect(CallEndCause.parse("+CEER: \"CC INFO\",18")?.reason == .noAnswer)
        #expect(CallEndCause.parse("+CEER: 19,\"User alerting, no answer\"")?.reason == .noAnswer)
        #expect(CallEndCause.parse("+CEER: \"User busy\"")?.reason == .busy)
        #expect(CallEndCause.parse("+CEER: \"No user responding\"")?.reason == .noAnswer)
        // 31 "normal, unspecified" is not evidence the far end hung up.
        #expect(CallEndCause.parse("+CEER: 31")?.reason == .networkFailure)
        #expect(CallEndCause.parse("+CEER: \"Normal, unspecified\"")?.reason == .networkFailure)
        #expect(CallEndCause.parse("+CEER: Normal, unspecified")?.text == "Normal, unspecified")
        #expect(CallEndCause.parse("+CEER: 34,\"No circuit/channel available\"")?.reason == .networkFailure)
        #expect(CallEndCause.parse("+CEER: \"No cause information available\"")?.reason == .unknown)
        #expect(CallEndCause.parse("+CEER: ")?.reason == .unknown)
        #expect(CallEndCause.parse("+CEER: 0")?.reason == .unknown)
        // A session-management 16 is not a call-control normal clearing.
        #expect(CallEndCause.parse("+CEER: \"SM INFO\",16")?.reason == .unknown)
        #expect(CallEndCause.parse("+CSQ: 16") == nil)
    }

    /// Each vendor's real +CEER shape: normal clearing must be recognised in every dialect (or the alarm would
    /// redial a centre that hung up), and anything unreadable must stay unknown (so the core redials).
    @Test func vendorCallEndCauses() {
        // Quectel EC2x: a category, then the cause as text (or as a number, above).
        let quectel = CallEndCause.parse("+CEER: \"CC INFO\",\"Normal call clearing\"")
        #expect(quectel == CallEndCause(cause: nil, text: "Normal call clearing", category: "CC INFO"))
        #expect(quectel?.reason == .normalClearing)
        #expect(CallEndCause.parse("+CEER: \"CC INFO\",\"User busy\"")?.reason == .busy)
        #expect(CallEndCause.parse("+CEER: \"CC INFO\",\"No cause information available\"")?.reason == .unknown)
        // A session-management text is about the data context, not the call.
        #expect(CallEndCause.parse("+CEER: \"SM INFO\",\"Regular deactivation\"")?.reason == .unknown)
        #expect(CallEndCause.parse("+CEER: \"EMM REJECT\",\"Normal call clearing\"")?.reason == .unknown)
        // SIMCom (A76xx field trace): number and text in one quoted string.
        let simcom = CallEndCause.parse("+CEER: \"16 Normal call clearing\"")
        #expect(simcom == CallEndCause(cause: 16, text: "Normal call clearing"))
        #expect(simcom?.reason == .normalClearing)
        #expect(CallEndCause.parse("+CEER: \"17 User busy\"")?.reason == .busy)
        #expect(CallEndCause.parse("+CEER: \"0 Unknown\"")?.reason == .unknown)
        #expect(CallEndCause.parse("+CEER: \"31 Normal, unspecified\"")?.reason == .networkFailure)
        #expect(CallEndCause.parse("+CEER: 16 Normal call clearing")?.reason == .normalClearing)
        // Cinterion: category, number, text.
        let cinterion = CallEndCause.parse("+CEER: \"CC setup error\",16,\"Normal call clearing\"")
        #expect(cinterion == CallEndCause(cause: 16, text: "Normal call clearing", category: "CC setup error"))
        #expect(cinterion?.reason == .normalClearing)
        #expect(CallEndCause.parse("+CEER: \"SM detach\",36,\"Regular deactivation\"")?.reason == .unknown)
        // Texts that merely start with a digit or a layer-like word are not taken apart.
        #expect(CallEndCause.parse("+CEER: \"Normal call clearing\"")?.category == nil)
        #expect(CallEndCause.parse("+CEER: \"16Normal\"")?.cause == nil)
        #expect(CallEndCause.parse("+CEER: \"16Normal\"")?.reason == .networkFailure)
    }

    @Test func batteryCharge() {
        #expect(BatteryCharge.parse("+CBC: 0,85,4012") == BatteryCharge(status: 0, percent: 85, millivolts: 4012))
        #expect(BatteryCharge.parse("+CBC: 1,100") == BatteryCharge(status: 1, percent: 100))
        #expect(BatteryCharge.parse("+CBC: 0,101,4012") == nil)
        #expect(BatteryCharge.parse("+CBC: 0") == nil)
    }

    @Test func networkClock() throws {
        // 2025-03-30 01:59:58 at UTC+1 (4 quarter hours) = 00:59:58 UTC.
        let cet = try #require(NetworkClock.parse("+CCLK: \"25/03/30,01:59:58+04\""))
        #expect(cet.millisecondsSince1970 == 1_743_296_398_000)
        #expect(cet.zoneQuarterHours == 4)
        #expect(cet.wallTime == WallTime(millisecondsSince1970: 1_743_296_398_000))
        // 2024-02-29 22:15:00 at UTC-3:30 (-14) = 2024-03-01 01:45:00 UTC: across a leap day and midnight.
        let newfoundland = try #require(NetworkClock.parse("+CCLK: \"24/02/29,22:15:00-14\""))
        #expect(newfoundland.millisecondsSince1970 == 1_709_257_500_000)
        #expect(newfoundland.zoneQuarterHours == -14)
        #expect(NetworkClock.parse("+CCLK: \"70/01/01,00:00:00+00\"")?.millisecondsSince1970 == 0)
        #expect(NetworkClock.parse("+CCLK: \"00/01/01,00:00:00+00\"")?.millisecondsSince1970 == 946_684_800_000)
        #expect(NetworkClock.parse("+CCLK: 25/03/30,01:59:58+04")?.millisecondsSince1970 == 1_743_296_398_000)
        let noZone = try #require(NetworkClock.parse("+CCLK: \"25/03/30,00:59:58\""))
        #expect(noZone.zoneQuarterHours == nil && noZone.millisecondsSince1970 == 1_743_296_398_000)
        // The unset clock of some modems lands in the past, where a plausibility check catches it.
        #expect(NetworkClock.parse("+CCLK: \"80/01/06,00:00:18+00\"")?.millisecondsSince1970 == 315_964_818_000)
        #expect(NetworkClock.parse("+CCLK: \"25/02/29,00:00:00+00\"") == nil)
        #expect(NetworkClock.parse("+CCLK: \"25/13/01,00:00:00+00\"") == nil)
        #expect(NetworkClock.parse("+CCLK: \"25/03/30,24:00:00+00\"") == nil)
        #expect(NetworkClock.parse("+CCLK: \"25/03/30\"") == nil)
    }

    @Test func simState() {
        #expect(SIMState.parse("+CPIN: READY") == .ready)
        #expect(SIMState.parse("+CPIN: SIM PIN") == .pinRequired)
        #expect(SIMState.parse("+CPIN: SIM PUK") == .pukRequired)
        #expect(SIMState.parse("+CPIN: NOT INSERTED") == .notInserted)
        #expect(SIMState.parse("+CPIN: NOT READY") == .notReady)
        #expect(SIMState.parse("+CPIN: PH-SIM PIN") == .other("PH-SIM PIN"))
        #expect(SIMState.parse("+CPIN: NOT INSERTED")?.isPresent == false)
        #expect(SIMState(code: "READY") == .ready)
        #expect(SIMState.parse("READY") == nil)
    }

    @Test func messageReference() {
        #expect(MessageReference.parse("+CMGS: 12") == MessageReference(12))
        #expect(MessageReference.parse("+CMGS: 255,\"25/03/30,01:59:58+04\"") == MessageReference(255))
        #expect(MessageReference.parse("+CMGS: 256") == nil)
        #expect(MessageReference.parse("+CMSS: 3") == nil)
    }

    @Test func identities() {
        #expect(ModemIdentity.parseIMEI("867698041234567") == "867698041234567")
        #expect(ModemIdentity.parseIMEI("+CGSN: \"867698041234567\"") == "867698041234567")
        #expect(ModemIdentity.parseIMEI("86769804123456") == nil)
        #expect(ModemIdentity.parseIMEI("OK") == nil)
        #expect(ModemIdentity.parseIMSI("206012345678901") == "206012345678901")
        #expect(ModemIdentity.parseIMSI("+CIMI: 206012345678901") == "206012345678901")
        #expect(ModemIdentity.parseIMSI("AT+CIMI") == nil)
        #expect(ModemIdentity.parseICCID("+QCCID: 8932001234567890123F") == "8932001234567890123")
        #expect(ModemIdentity.parseICCID("+ICCID: 89320012345678901234") == "89320012345678901234")
        #expect(ModemIdentity.parseICCID("8932001234567890123") == "8932001234567890123")
        #expect(ModemIdentity.parseICCID("+CCID: \"8932001234567890123\"") == "8932001234567890123")
        #expect(ModemIdentity.parseICCID("+CSQ: 8932001234567890123") == nil)
        #expect(ModemIdentity.parseICCID("+CME ERROR: 10") == nil)
    }
}

@Suite struct ATResponseNameTests {
    @Test func namesOfLinesAndCommands() {
        #expect(ATResponseName.of("+CSQ: 21,99") == "+CSQ")
        #expect(ATResponseName.of("+cme error: 10") == "+CME ERROR")
        #expect(ATResponseName.of("OK") == nil)
        #expect(ATResponseName.of("867698041234567") == nil)
        #expect(ATResponseName.expected(for: "AT+CREG?") == "+CREG")
        #expect(ATResponseName.expected(for: "AT+CMGS=23") == "+CMGS")
        #expect(ATResponseName.expected(for: "at+qccid\r") == "+QCCID")
        #expect(ATResponseName.expected(for: "AT+CREG=?") == "+CREG")
        #expect(ATResponseName.expected(for: "ATD+3292000101;") == nil)
        #expect(ATResponseName.expected(for: "AT+") == nil)
    }

    @Test func aURCInTheMiddleOfACommandIsToldApart() {
        // During AT+CREG?, "+CREG: 2,1,…" answers the command while "+CEREG: 1,…" is a URC.
        let expected = ATResponseName.expected(for: "AT+CREG?")
        #expect(ATResponseName.of("+CREG: 2,1,\"1A2B\",\"00C3F2A1\",7") == expected)
        #expect(ATResponseName.of("+CEREG: 1,\"0C4E\",\"0177A20B\",7") != expected)
    }
}
