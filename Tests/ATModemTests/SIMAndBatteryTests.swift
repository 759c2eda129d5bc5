import ModemTestSupport
import AlarmCore
import ATModem
import HAL
import ModemEmulator
import Testing

@Suite struct SIMAndBatteryTests {
    @Test func lockedSIMIsUnlockedWithThePINAndThePINNeverLeavesTheModemLine() throws {
        var settings = ATModemSettings()
        settings.simPIN = "4711"
        let rig = try ModemRig(configure: { $0.simPIN = "4711" }, driverSettings: settings)
        try rig.start()
        #expect(rig.emulator.transcript.contains("→ AT+CPIN=\"4711\""))
        #expect(rig.emulator.wrongPINAttempts == 0)
        #expect(rig.lastNetwork?.registration == .home)
        #expect(rig.driver.identity.imsi == "206011234567890")
    }

    @Test func wrongPINIsTriedOnceOnly() throws {
        var settings = ATModemSettings()
        settings.simPIN = "0000"
        let rig = try ModemRig(configure: { $0.simPIN = "4711" }, driverSettings: settings)
        try rig.start()
        #expect(rig.emulator.wrongPINAttempts == 1)
        rig.emulator.powerCycle()
        rig.advance(.seconds(3))
        // After a restart the driver may try once more, never in a loop: three wrong PINs lock the SIM.
        #expect(rig.emulator.wrongPINAttempts <= 2)
    }

    @Test func batteryFromTheModem() throws {
        let rig = try ModemRig()
        try rig.start()
        let battery = Collector<PowerStatus>()
        try rig.driver.start { battery.append($0) }
        #expect(battery.waitUntil { $0.last == PowerStatus(batteryPercent: 87, charging: false) })
        rig.emulator.setBattery(percent: 14, charging: true)
        rig.advance(.seconds(60), in: .seconds(1))
        #expect(battery.waitUntil { $0.last == PowerStatus(batteryPercent: 14, charging: true) })
    }
}

@Suite struct ModemGNSSTests {
    @Test func modemGNSSIsSwitchedOnAfterEveryStart() throws {
        var settings = ATModemSettings()
        settings.enableGNSS = true
        let rig = try ModemRig(driverSettings: settings)
        try rig.start()
        #expect(rig.emulator.transcript.filter { $0 == "→ AT+QGPS=1" }.count == 1)
        #expect(rig.emulator.transcript.contains("→ AT+QGPSCFG=\"outport\",\"usbnmea\""))
        rig.emulator.powerCycle()
        rig.advance(.seconds(2))
        #expect(rig.waitFor { rig.driver.phase == .ready })
        #expect(rig.emulator.transcript.filter { $0 == "→ AT+QGPS=1" }.count == 2)
    }

    @Test func gnssStaysOffUnlessTheBoardAsks() throws {
        let rig = try ModemRig()
        try rig.start()
        #expect(!rig.emulator.transcript.contains { $0.contains("QGPS") })
    }
}
