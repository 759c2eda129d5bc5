import AlarmCore
import ATModem
import ModemEmulator
import Testing

@Suite struct StartupTests {
    @Test func startUpAppliesSettingsAndReportsRegistration() throws {
        let rig = try ModemRig()
        try rig.start()
        let transcript = rig.emulator.transcript.joined(separator: "\n")
        for command in ["ATE0", "AT+CMEE=2", "AT+CTZU=1", "AT+CLIP=1", "AT+CREG=2", "AT+CEREG=2", "AT+CMGF=0",
                        "AT+QURCCFG=\"urcport\",\"usbat\""] {
            #expect(transcript.contains("→ \(command)"), "missing \(command)")
        }
        #expect(!transcript.contains("AT+CMUT=1"))
        #expect(rig.driver.identity.imei == "861234050123456")
        #expect(rig.driver.identity.imsi == "206011234567890")
        #expect(rig.driver.identity.iccid == "8932011234567890123")
        let status = try #require(rig.lastNetwork)
        #expect(status.registration == .home)
        #expect(status.signal == 21)
        #expect(status.cell == CellInfo(mcc: 206, mnc: 1, areaCode: 0x3E9, cellID: 0x1A2B3C, accessTechnology: "LTE"))
    }
}
