import AlarmCodecs
import AlarmCore
import CentreSMS
import Testing

@Suite struct CentreSMSTests {
    let key = try! SMSKey(text: String(repeating: "3C", count: 32))
    let otherKey = try! SMSKey(text: String(repeating: "A5", count: 32))

    func report(_ kind: ReportKind = .alarm) -> Report {
        Report(sequence: 4711 % 9999, kind: kind, alarmNumber: 12,
               position: Fix(latitude: 51.0543, longitude: 3.7174, horizontalAccuracy: 6.4,
                             fixTime: WallTime(millisecondsSince1970: 1_795_000_000_000)),
               positionAge: .seconds(4), previousPositions: [],
               cell: CellInfo(mcc: 206, mnc: 1, areaCode: 0x3E9, cellID: 0x1A2B3C, accessTechnology: "LTE"))
    }

    @Test func reportSMSRoundTripsAndFitsOneMessage() throws {
        let text = try SMSReport.encode(report(), deviceID: "BE-SIM-0001", key: key, battery: 87, signal: 21)
        #expect(text.hasPrefix("AL1 BE-SIM-0001 12 4711 "))
        #expect(text.count <= 160, "one SMS in the GSM 7-bit alphabet: \(text.count) characters")
        #expect(!text.contains("51.05"), "the position never travels in clear")
        // The longest plausible report still fits: far west and south, a wide radius, old position, full battery.
        var worst = report()
        worst.position?.latitude = -89.99999
        worst.position?.longitude = -179.99999
        worst.position?.horizontalAccuracy = 99_999
        worst.positionAge = .seconds(86_399)
        worst.alarmNumber = 99_999
        worst.sequence = 9999
        let longest = try SMSReport.encode(worst, deviceID: String(repeating: "X", count: 32), key: key, battery: 100, signal: 31)
        #expect(longest.count <= 160, "\(longest.count) characters")
        #expect(try SMSReport.decode(longest, key: key).fields["o"] == "-179.999990")
        #expect(try SMSPDU.submit(to: "+3292000199", text: text, reference: 1).count == 1)
        let decoded = try SMSReport.decode(text, key: key)
        #expect(decoded.deviceID == "BE-SIM-0001" && decoded.alarmNumber == 12 && decoded.sequence == 4711)
        #expect(decoded.fields["k"] == "HA")
        #expect(decoded.fields["a"] == "51.054300" && decoded.fields["o"] == "3.717400")
        #expect(decoded.fields["c"] == "206-1-3E9-1A2B3C")
        #expect(decoded.fields["r"] == "6" && decoded.fields["s"] == "G" && decoded.fields["b"] == "87")
        #expect(decoded.fields["t"] == "1795000000" && decoded.fields["g"] == "4" && decoded.fields["q"] == "21")
    }

    @Test func tamperedOrForeignReportSMSIsRejected() throws {
        let text = try SMSReport.encode(report(), deviceID: "BE-SIM-0001", key: key)
        #expect(throws: SMSReport.DecodeError.notAuthentic) { try SMSReport.decode(text, key: otherKey) }
        // Moving the clear sequence (to hide a report as a duplicate) breaks authentication.
        let moved = text.replacingFirst(" 4711 ", with: " 4712 ")
        #expect(throws: SMSReport.DecodeError.notAuthentic) { try SMSReport.decode(moved, key: key) }
        #expect(throws: SMSReport.DecodeError.notOurs) { try SMSReport.decode("hello", key: key) }
    }

    @Test func validCommandIsAccepted() throws {
        let command = SMSCommand(deviceID: "BE-SIM-0001", counter: 8, verb: .endAlarm, argument: 12)
        let text = command.text(key: key)
        #expect(text.count < 70)
        let verified = try SMSCommand.verify(text, deviceID: "BE-SIM-0001", key: key, lastCounter: 7)
        #expect(verified == command)
        let position = SMSCommand(deviceID: "BE-SIM-0001", counter: 9, verb: .position)
        #expect(try SMSCommand.verify(position.text(key: key), deviceID: "BE-SIM-0001", key: key, lastCounter: 8).verb == .position)
    }

    @Test func forgedReplayedOrMisdirectedCommandsDoNothing() {
        let command = SMSCommand(deviceID: "BE-SIM-0001", counter: 8, verb: .endAlarm, argument: 12)
        let text = command.text(key: key)
        #expect(throws: SMSCommand.Rejection.replayed(counter: 8, last: 8)) {
            try SMSCommand.verify(text, deviceID: "BE-SIM-0001", key: key, lastCounter: 8)
        }
        #expect(throws: SMSCommand.Rejection.badMAC) {
            try SMSCommand.verify(command.text(key: otherKey), deviceID: "BE-SIM-0001", key: key, lastCounter: 0)
        }
        // Changing the target alarm (or the counter) invalidates the MAC.
        #expect(throws: SMSCommand.Rejection.badMAC) {
            try SMSCommand.verify(text.replacingFirst(" 12 ", with: " 13 "), deviceID: "BE-SIM-0001", key: key, lastCounter: 0)
        }
        #expect(throws: SMSCommand.Rejection.otherDevice) {
            try SMSCommand.verify(SMSCommand(deviceID: "BE-SIM-0002", counter: 9, verb: .position).text(key: key),
                                  deviceID: "BE-SIM-0001", key: key, lastCounter: 0)
        }
        #expect(throws: SMSCommand.Rejection.notACommand) { try SMSCommand.verify("END 12", deviceID: "BE-SIM-0001", key: key, lastCounter: 0) }
        #expect(throws: SMSCommand.Rejection.malformed) { try SMSCommand.verify("ALC1 BE-SIM-0001 x END zz", deviceID: "BE-SIM-0001", key: key, lastCounter: 0) }
    }

    @Test func keysAreChecked() {
        #expect(throws: SMSKey.KeyError.badFormat) { try SMSKey(text: "00") }
        #expect(throws: SMSKey.KeyError.badFormat) { try SMSKey(text: String(repeating: "G", count: 64)) }
    }
}

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let found = firstRange(of: a) else { return self }
        var copy = self
        copy.replaceSubrange(found, with: b)
        return copy
    }
}

@Suite struct Base64Tests {
    @Test func strictDecoding() {
        #expect(Base64.decode("TWFu") == Array("Man".utf8))
        #expect(Base64.decode("TWE=") == Array("Ma".utf8))
        #expect(Base64.decode("TQ==") == Array("M".utf8))
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("TQ=") == nil)
        #expect(Base64.decode("T=Q=") == nil)
        #expect(Base64.decode("TQ==TWFu") == nil)
        #expect(Base64.decode("TW-u") == nil)
        // A sign on the counter or argument is not a number here (the MAC covers the canonical form only).
        #expect(throws: SMSCommandText.ParseError.malformed) { try SMSCommandText.parse("ALC1 D +5 END 1 AAAAAAAAAAAAAAAAAAAAAA==") }
        #expect(throws: SMSCommandText.ParseError.malformed) { try SMSCommandText.parse("ALC1 D 5 END -1 AAAAAAAAAAAAAAAAAAAAAA==") }
        #expect(throws: SMSCommandText.ParseError.notACommand) { try SMSCommandText.parse("ALC2 D 5 END 1 AAAAAAAAAAAAAAAAAAAAAA==") }
        #expect((try? SMSCommandText.parse("ALC1 D 5 POS AAAAAAAAAAAAAAAAAAAAAA=="))?.mac.count == 16)
    }
}
