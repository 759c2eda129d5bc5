import AlarmCodecs
import AlarmCore
import DC09
import Testing

@Suite struct DC09CipherTests {
    let message = DC09Message(kind: .siaDCS, sequence: 17, account: DC09Account(receiver: "1", prefix: "1", account: "A1234"),
                              data: "#A1234|Nri1/HA", extended: ["X4.351721", "Y50.850346"],
                              timestamp: WallTime(millisecondsSince1970: 1_758_731_201_000))

    @Test(arguments: [("AAAAAAAAAAAAAAAA", DC09Key.Encoding.asciiHex), ("00112233445566778899AABBCCDDEEFF0011223344556677", .binaryHex),
                      ("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", .binaryHex)])
    func roundTripForEveryKeySize(keyText: String, encoding: DC09Key.Encoding) throws {
        let key = try DC09Key(text: keyText, encoding: encoding)
        var random = SplitMix64(seed: 7)
        let body = try DC09Cipher.encryptedBody(message, key: key, using: &random)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.hasPrefix("\"*SIA-DCS\"0017R1L1#A1234["))
        let hex = text.dropFirst("\"*SIA-DCS\"0017R1L1#A1234[".count)
        #expect(hex.count % 32 == 0)
        #expect(hex.allSatisfy { $0.isHexDigit && !$0.isLowercase })
        #expect(!text.contains("HA"), "the event must not travel in clear")
        #expect(try DC09Cipher.decryptTail(hex: hex, key: key) == String(message.tail.dropFirst()))
        // The whole thing frames like any other body.
        #expect(try DC09Frame.unwrap(try DC09Frame.wrap(body)) == body)
    }

    @Test func wrongKeyDoesNotDecryptToText() throws {
        let key = try DC09Key(text: "AAAAAAAAAAAAAAAA", encoding: .asciiHex)
        let other = try DC09Key(text: "BBBBBBBBBBBBBBBB", encoding: .asciiHex)
        var random = SplitMix64(seed: 1)
        let text = String(decoding: try DC09Cipher.encryptedBody(message, key: key, using: &random), as: UTF8.self)
        let hex = text[text.index(after: text.firstIndex(of: "[")!)...]
        #expect(throws: DC09Cipher.CipherError.self) { try DC09Cipher.decryptTail(hex: hex, key: other) }
        #expect(throws: DC09Cipher.CipherError.notHex) { try DC09Cipher.decryptTail(hex: "XYZ0", key: key) }
        #expect(throws: DC09Cipher.CipherError.notWholeBlocks) { try DC09Cipher.decryptTail(hex: "00FF", key: key) }
    }

    @Test func padIsFreshPerMessage() throws {
        let key = try DC09Key(text: "AAAAAAAAAAAAAAAA", encoding: .asciiHex)
        var random = SplitMix64(seed: 3)
        let a = try DC09Cipher.encryptedBody(message, key: key, using: &random)
        let b = try DC09Cipher.encryptedBody(message, key: key, using: &random)
        #expect(a != b, "identical messages must not give identical ciphertexts")
    }

    @Test func keysAreChecked() {
        #expect(throws: DC09Key.KeyError.badLength(15)) { try DC09Key(text: "AAAAAAAAAAAAAAA", encoding: .asciiHex) }
        #expect(throws: DC09Key.KeyError.notHex) { try DC09Key(text: "not a hex key at all!!", encoding: .asciiHex) }
        #expect(throws: DC09Key.KeyError.badLength(16)) { try DC09Key(text: "AAAAAAAAAAAAAAAA", encoding: .binaryHex) }
        #expect((try? DC09Key(text: " AAAAAAAAAAAAAAAA\n", encoding: .asciiHex))?.bits == 128)
        #expect((try? DC09Key(text: String(repeating: "0F", count: 32), encoding: .binaryHex))?.bits == 256)
    }
}

@Suite struct DC09ComposerTests {
    let account = DC09Account(receiver: "1", prefix: "1", account: "A1234")
    let now = WallTime(millisecondsSince1970: 1_795_000_000_000)

    func report(_ kind: ReportKind, position: Bool = true) -> Report {
        var fix = Fix(latitude: 50.850346, longitude: 4.351721, horizontalAccuracy: 8.4,
                      fixTime: WallTime(millisecondsSince1970: 1_794_999_997_000))
        fix.altitude = 61.25
        return Report(sequence: 9, kind: kind, alarmNumber: 3, position: position ? fix : nil, positionAge: .seconds(3),
                      previousPositions: [], cell: CellInfo(mcc: 206, mnc: 1, areaCode: 0x3E9, cellID: 0x1A2B3C, accessTechnology: "LTE"))
    }

    @Test func alarmInSIADCSCarriesPositionAndDetail() {
        let composer = DC09Composer(account: account, format: .siaDCS, deviceID: "BE-1")
        let message = composer.message(for: report(.alarm), now: now, battery: 87, signal: 21)
        #expect(message.kind == .siaDCS)
        #expect(message.data == "#A1234|Nri1/HA")
        #expect(message.extended == ["X+4.351721", "Y+50.850346", "Z61.3", "H\(String(DC09Timestamp.format(report(.alarm).position!.fixTime).dropFirst()))",
                                     "Idev=BE-1;alarm=3;kind=alarm;src=G;rd=8;age=3;cell=206-1-3E9-1A2B3C-LTE;bat=87;sig=21"])
        #expect(message.timestamp == now)
        for block in message.extended where block.first == "X" || block.first == "Y" { #expect(block.count - 1 <= 12) }
    }

    /// The centre sees a changed firmware or provisioning at the next test: the test report carries both.
    @Test func aTestReportCarriesTheFirmwareAndTheProvisioningDigest() {
        let composer = DC09Composer(account: account, format: .siaDCS, deviceID: "BE-1",
                                    identity: ["fw=0.17.0", "prov=0123456789abcdef"])
        let detail = composer.message(for: report(.periodicTest), now: now).extended.last ?? ""
        #expect(detail.hasSuffix(";fw=0.17.0;prov=0123456789abcdef"), "\(detail)")
        #expect(composer.message(for: report(.alarm), now: now).extended.last?.contains("prov=") == false)
    }

    @Test func aTestReportSaysWhetherTheButtonWorks() {
        let composer = DC09Composer(account: account, format: .siaDCS, deviceID: "BE-1")
        var test = report(.periodicTest)
        test.button = .lost
        #expect(composer.message(for: test, now: now).extended.last?.contains(";btn=lost") == true)
        test.button = .available
        #expect(composer.message(for: test, now: now).extended.last?.contains(";btn=ok") == true)
        #expect(composer.message(for: report(.alarm), now: now).extended.last?.contains("btn=") == false)
    }

    @Test func buttonTroubleHasItsOwnContactIDEventAmongTheYXTroubles() {
        let others: [ReportKind] = [.gnssTrouble, .storageTrouble, .microphoneTrouble]
        let button = DC09EventCode.code(for: .buttonTrouble)
        #expect(button.sia == "YX")
        #expect(!others.map { DC09EventCode.code(for: $0).contactIDEvent }.contains(button.contactIDEvent))
    }

    @Test(arguments: [(ReportKind.alarm, "HA", "1122"), (.positionUpdate, "HS", "1122"), (.cancelRequested, "OC", "1406"),
                      (.trackingEnded, "HH", "3122"), (.emergencyCallPlaced, "QA", "1101"),
                      (.periodicTest, "RP", "1602"), (.batteryLow, "YT", "1302"), (.batteryRestored, "YR", "3302"),
                      (.batteryCritical, "YM", "1311"), (.modemTrouble, "YC", "1350"), (.modemRestored, "YK", "3350"),
                      (.gnssTrouble, "YX", "1380"), (.gnssRestored, "YZ", "3380"),
                      (.buttonTrouble, "YX", "1331"), (.buttonRestored, "YZ", "3331"), (.provisioningTamper, "TA", "1137")])
    func everyKindHasACode(kind: ReportKind, siaCode: String, contactID: String) {
        let sia = DC09Composer(account: account, format: .siaDCS, deviceID: "BE-1").message(for: report(kind), now: now)
        #expect(sia.kind == .siaDCS)
        #expect(sia.data == "#A1234|Nri1/\(siaCode)")
        let cid = DC09Composer(account: account, format: .contactID, deviceID: "BE-1").message(for: report(kind), now: now)
        if kind == .positionUpdate {
            #expect(cid.kind == .siaDCS, "positions always travel as SIA-DCS")
        } else {
            #expect(cid.kind == .contactID)
            #expect(cid.data == "#A1234|\(contactID) 01 003")
            #expect(cid.extended.isEmpty)
        }
    }

    @Test func noPositionSaysSo() {
        let message = DC09Composer(account: account, format: .siaDCS, deviceID: "BE-1").message(for: report(.alarm, position: false), now: now)
        #expect(message.extended.count == 1)
        #expect(message.extended[0].contains("src=none"))
    }

    @Test func degreesFormatting() {
        #expect(DC09Composer.degrees(-0.1277583) == "-0.127758")
        #expect(DC09Composer.degrees(179.9999999) == "+180.000000")
        #expect(DC09Composer.degrees(0) == "+0.000000")
    }
}
