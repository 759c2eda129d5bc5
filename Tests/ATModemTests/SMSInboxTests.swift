import AlarmCore
import ATModem
import ModemEmulator
import ModemTestSupport
import Testing

/// SMS arriving at the device: +CMTI, AT+CMGR in PDU mode, AT+CMGD.
@Suite struct SMSInboxTests {
    struct Message: Sendable, Hashable { var sender: String; var text: String }

    @Test func announcedMessageIsReadHandedOnAndDeleted() throws {
        let rig = try ModemRig()
        let inbox = Collector<Message>(activity: rig.activity)
        rig.driver.onIncomingSMS { inbox.append(Message(sender: $0, text: $1)) }
        try rig.start()
        #expect(rig.emulator.deliverSMS(from: "+3292000101", text: "ALC1 BE-1 5 POS abc"))
        #expect(rig.waitFor { inbox.all == [Message(sender: "+3292000101", text: "ALC1 BE-1 5 POS abc")] })
        #expect(rig.waitFor { rig.emulator.storedSMSCount == 0 })
        #expect(rig.emulator.transcript.contains("→ AT+CNMI=2,1,0,0,0"))
    }

    @Test func messagesThatArrivedWhileTheModemWasStartingAreReadAfterStartUp() throws {
        let rig = try ModemRig()
        let inbox = Collector<Message>(activity: rig.activity)
        rig.driver.onIncomingSMS { inbox.append(Message(sender: $0, text: $1)) }
        // Before +CNMI: stored, never announced.
        rig.emulator.deliverSMS(from: "+3292000102", text: "first")
        rig.emulator.deliverSMS(from: "+32470000000", text: "second, with ü")
        try rig.start()
        #expect(rig.waitFor { inbox.all.count == 2 })
        #expect(Set(inbox.all) == [Message(sender: "+3292000102", text: "first"), Message(sender: "+32470000000", text: "second, with ü")])
        #expect(rig.waitFor { rig.emulator.storedSMSCount == 0 })
    }
}
