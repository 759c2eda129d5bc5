import ModemTestSupport
import AlarmCodecs
import AlarmCore
import ATModem
import HAL
import ModemEmulator
import Testing

@Suite struct SMSTests {
    static let number = "+32470123456"

    /// Sends and waits for the completion; every byte crosses the pty (AT+CMGS, the "> " prompt, the PDU).
    func send(_ rig: ModemRig, _ text: String, to number: String = number) -> Collector<Result<Void, HALError>> {
        let results = Collector<Result<Void, HALError>>(activity: rig.activity)
        rig.driver.send(text: text, to: number) { results.append($0) }
        #expect(rig.waitFor { !results.all.isEmpty })
        return results
    }

    /// Each AT+CMGS=<n> in the transcript, checked against the PDU that followed it: <n> must be the TPDU's
    /// length in octets (the PDU hex without its SMSC octet "00"). The emulator refuses a mismatch too; this
    /// recomputes it independently of the emulator's check.
    func checkLengths(_ rig: ModemRig) -> Int {
        let transcript = rig.emulator.transcript
        var checked = 0
        for (index, line) in transcript.enumerated() where line.hasPrefix("→ AT+CMGS=") {
            guard let declared = Int(line.dropFirst("→ AT+CMGS=".count)) else {
                Issue.record("unreadable \(line)")
                continue
            }
            guard let pdu = transcript[(index + 1)...].first(where: { $0.hasSuffix(" <Ctrl-Z>") }) else {
                Issue.record("no PDU after \(line)")
                continue
            }
            let hex = pdu.dropFirst("→ ".count).dropLast(" <Ctrl-Z>".count)
            #expect(hex.hasPrefix("00"), "the PDU should use the SIM's SMSC")
            #expect(hex.count % 2 == 0)
            #expect(declared == hex.count / 2 - 1, "AT+CMGS=\(declared) for a TPDU of \(hex.count / 2 - 1) octets")
            checked += 1
        }
        #expect(!transcript.contains { $0.hasPrefix("!!") })
        return checked
    }

    @Test func shortGSMTextIsSentAsOnePDU() throws {
        let rig = try ModemRig()
        try rig.start()
        let text = "ALARM: user needs help. Position 50.8466N 4.3528E (about 12 m) @ Rue de la Loi 16, €5 [test]"
        let results = send(rig, text)
        guard case .success? = results.all.first else {
            Issue.record("SMS failed: \(results.all)")
            return
        }
        #expect(results.all.count == 1)
        #expect(rig.emulator.submittedSMS == [SMSPDU.Decoded(number: Self.number, text: text)])
        #expect(checkLengths(rig) == 1)
        #expect(rig.driver.phase == .ready)
    }

    @Test func longTextGoesAsThreeConcatenatedParts() throws {
        let rig = try ModemRig()
        try rig.start()
        let sentence = "Stalking alarm: the user pressed the button {3x}, call the police €€ and send help now! "
        let text = String(String(repeating: sentence, count: 5).prefix(400))
        let results = send(rig, text)
        guard case .success? = results.all.first else {
            Issue.record("SMS failed: \(results.all)")
            return
        }
        #expect(results.all.count == 1)
        let parts = rig.emulator.submittedSMS
        #expect(parts.count == 3)
        #expect(parts.allSatisfy { $0.number == Self.number })
        #expect(parts.map { $0.concatenation?.total } == [3, 3, 3])
        #expect(parts.map { $0.concatenation?.sequence } == [1, 2, 3])
        #expect(Set(parts.compactMap { $0.concatenation?.reference }).count == 1)
        #expect(parts.map(\.text).joined() == text)
        #expect(checkLengths(rig) == 3)

        // The next long message has another concatenation reference, so phones never mix their parts.
        _ = send(rig, text)
        let next = rig.emulator.submittedSMS.dropFirst(3)
        #expect(next.count == 3)
        #expect(next.first?.concatenation?.reference != parts.first?.concatenation?.reference)
    }

    @Test func textOutsideTheGSMAlphabetIsSentAsUCS2() throws {
        let rig = try ModemRig()
        try rig.start()
        let text = "Alarme — Zoë a besoin d'aide ☎ 助けて 🚨"
        let results = send(rig, text, to: "+33612345678")
        guard case .success? = results.all.first else {
            Issue.record("SMS failed: \(results.all)")
            return
        }
        #expect(rig.emulator.submittedSMS == [SMSPDU.Decoded(number: "+33612345678", text: text)])
        #expect(checkLengths(rig) == 1)
        // TP-DCS 08 (UCS-2): the first-octet, MR, address, PID and DCS come before the user data.
        let pdu = try #require(rig.emulator.transcript.first { $0.hasSuffix(" <Ctrl-Z>") })
        #expect(pdu.contains("0B913316325476F80008"))
    }

    @Test func longUCS2TextIsConcatenatedWithoutSplittingAnEmoji() throws {
        let rig = try ModemRig()
        try rig.start()
        let text = String(repeating: "Привет 🚨 ", count: 20)  // 200 UTF-16 units: 3 parts of ≤ 67
        let results = send(rig, text)
        guard case .success? = results.all.first else {
            Issue.record("SMS failed: \(results.all)")
            return
        }
        let parts = rig.emulator.submittedSMS
        #expect(parts.count == 3)
        #expect(parts.map(\.text).joined() == text)
        #expect(checkLengths(rig) == 3)
    }

    @Test func withoutRegistrationTheSMSFailsAsNotReady() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setRegistration(.searching)
        #expect(rig.network.waitUntil { $0.last?.registration == .searching })
        let results = send(rig, "ALARM: help")
        guard case .failure(let error)? = results.all.first else {
            Issue.record("SMS should have failed: \(results.all)")
            return
        }
        #expect(error.kind == .notReady)
        #expect(rig.emulator.submittedSMS.isEmpty)
        #expect(rig.driver.phase == .ready)
        // Back on the network, the next message goes through.
        rig.emulator.setRegistration(.home)
        #expect(rig.network.waitUntil { $0.last?.registration == .home })
        let retry = send(rig, "ALARM: help")
        guard case .success? = retry.all.first else {
            Issue.record("SMS failed after registration came back: \(retry.all)")
            return
        }
        #expect(rig.emulator.submittedSMS.map(\.text) == ["ALARM: help"])
    }

    @Test func whileTheModemIsDownTheSMSFailsAsNotReady() throws {
        let rig = try ModemRig()
        let results = Collector<Result<Void, HALError>>(activity: rig.activity)
        rig.driver.send(text: "ALARM: help", to: Self.number) { results.append($0) }
        #expect(results.waitUntil { !$0.isEmpty })
        guard case .failure(let error)? = results.all.first else {
            Issue.record("SMS should have failed: \(results.all)")
            return
        }
        #expect(error.kind == .notReady)
    }
}
