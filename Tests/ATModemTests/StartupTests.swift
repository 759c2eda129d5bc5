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

    /// The port opens while the modem boots: the first probe is lost. RDY says the modem listens now, so the
    /// driver probes again at once instead of after the probe's 1 s timeout.
    @Test func aProbeLostDuringBootIsRepeatedWhenTheModemSaysRDY() throws {
        let rig = try ModemRig { $0.bootTime = .milliseconds(300) }
        rig.port.open()
        rig.settle()
        #expect(rig.emulator.transcript.filter { $0 == "→ AT" }.isEmpty)  // the emulator ignores bytes while booting
        rig.advance(.milliseconds(300))  // boot, RDY; the lost probe's timeout (at 1 s) has not run out
        #expect(rig.waitFor { rig.driver.phase == .ready })
        let transcript = rig.emulator.transcript
        let rdy = try #require(transcript.firstIndex(of: "← RDY (URC)"))
        #expect(transcript[rdy...].contains("→ AT"))
        #expect(rig.driver.engine.consecutiveTimeouts == 0)
    }

    /// Without RDY (a modem that does not announce itself) the probe's own timeout still finds it.
    @Test func aModemThatNeverSaysRDYIsFoundByTheProbeRetry() throws {
        let rig = try ModemRig(profile: .generic) { $0.bootTime = .milliseconds(300); $0.announcesReady = false }
        rig.port.open()
        rig.advance(.milliseconds(300))
        rig.settle()
        #expect(rig.driver.phase == .starting)
        rig.advance(.milliseconds(700))  // the first probe's 1 s runs out: the second is answered
        #expect(rig.waitFor { rig.driver.phase == .ready })
    }

    /// A modem that boots during the driver's last allowed probe: RDY ends that probe, and the probe asked again
    /// is not counted as another failure, so the driver does not give up (recover, power-cycle) on a modem that has
    /// just said it is ready.
    @Test func aBootDuringTheLastProbeIsNotCountedAsAFailure() throws {
        var settings = ATModemSettings()
        settings.readyTimeout = .seconds(2)  // probes at 0, 1 and 2 s; the third is the last
        let rig = try ModemRig(configure: { $0.bootTime = .milliseconds(2500) }, driverSettings: settings)
        rig.port.open()
        rig.advance(.milliseconds(2500))  // three probes lost, RDY during the last
        #expect(rig.waitFor { rig.driver.phase == .ready })
        #expect(rig.driver.restartCount == 0)
        #expect(!rig.emulator.transcript.contains("-- power off"))
    }
}
