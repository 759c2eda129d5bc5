import AlarmCore
import ATModem
import HAL
import ModemEmulator
import ModemTestSupport
import Testing

/// The data call through the driver, against the emulator's packet domain, over a real pty.
@Suite struct DataConnectionTests {
    func rig(profile: ModemProfile = .generic, activation: DataCallSettings.Activation = .standard,
             auth: DataCallSettings.Authentication = .none,
             configure: (inout EmulatorSettings) -> Void = { _ in }) throws -> (ModemRig, Collector<ModemDataStatus>) {
        var settings = ATModemSettings()
        var data = DataCallSettings(apn: "internet.proximus.be")
        data.activation = activation
        data.authentication = auth
        if auth != .none {
            data.user = "alarm"
            data.password = "s3cret-pass"
        }
        settings.data = data
        let rig = try ModemRig(profile: profile, configure: configure, driverSettings: settings)
        let statuses = Collector<ModemDataStatus>(activity: rig.activity)
        try rig.driver.start { statuses.append($0) }
        return (rig, statuses)
    }

    @Test func contextIsDefinedAndActivatedAfterStartUp() throws {
        let (rig, statuses) = try rig(auth: .chap)
        try rig.start()
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        #expect(statuses.all.last?.address == "10.64.1.2")
        #expect(statuses.all.last?.technology == .lte)
        let sent = rig.emulator.transcript.filter { $0.hasPrefix("→ ") }
        #expect(sent.contains("→ AT+CGDCONT=1,\"IP\",\"internet.proximus.be\""))
        #expect(sent.contains("→ AT+CGEREP=2,1"))
        #expect(sent.contains("→ AT+CGAUTH=1,2,\"alarm\",\"s3cret-pass\""))
        #expect(sent.contains("→ AT+CGACT=1,1"))
        #expect(rig.emulator.contextActive())
    }

    @Test func networkDeactivationIsReportedAndReconnectedWithBackoff() throws {
        let (rig, statuses) = try rig()
        try rig.start()
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        rig.emulator.deactivateContext()
        #expect(rig.waitFor { statuses.all.last?.contextActive == false })
        #expect(rig.emulator.dataActivations == 1)
        rig.advance(.seconds(3))
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        #expect(rig.emulator.dataActivations == 2)
    }

    @Test func activationWaitsForRegistrationAndBacksOffWhileRefused() throws {
        let (rig, statuses) = try rig { $0.registration = .searching }
        try rig.start()
        rig.advance(.seconds(30))
        #expect(rig.emulator.dataActivations == 0)
        #expect(statuses.all.allSatisfy { !$0.contextActive })
        rig.emulator.setRegistration(.home)
        #expect(rig.waitFor { statuses.all.last?.contextActive == true }, "\(rig.emulator.transcript.suffix(12))")
    }

    @Test func quectelStartsTheDataCallWithItsVendorCommandAndSwitchesIMSOn() throws {
        let (rig, statuses) = try rig(profile: .quectelEC25, activation: .vendor)
        try rig.start()
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        let sent = rig.emulator.transcript.filter { $0.hasPrefix("→ ") }
        #expect(sent.contains("→ AT+QNETDEVCTL=1,1,1"))
        #expect(sent.contains("→ AT+QCFG=\"ims\",1"))
        #expect(rig.emulator.imsEnabled)
    }

    @Test func callWithoutIMSFallsBackTo2GAndDataIsHeldUntilItEnds() throws {
        let (rig, statuses) = try rig()
        try rig.start()
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        rig.driver.dial(.outgoing(1), number: "+3292000101")
        rig.advance(.seconds(3))
        #expect(rig.waitFor { statuses.all.last?.inVoiceCall == true && statuses.all.last?.technology == .gsm })
        #expect(rig.emulator.dataSuspended)
        rig.driver.perform(.hangUp, on: .outgoing(1))
        rig.advance(.seconds(1))
        #expect(rig.waitFor { statuses.all.last?.inVoiceCall == false && statuses.all.last?.technology == .lte })
        #expect(!rig.emulator.dataSuspended)
    }

    @Test func voLTECallStaysOnLTEWithData() throws {
        let (rig, statuses) = try rig(profile: .quectelEC25, activation: .vendor)
        try rig.start()
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        rig.driver.dial(.outgoing(1), number: "+3292000101")
        rig.advance(.seconds(3))
        #expect(rig.waitFor { statuses.all.last?.inVoiceCall == true })
        rig.advance(.milliseconds(500))
        rig.settle()
        #expect(statuses.all.last?.technology == .lte)
        #expect(!rig.emulator.dataSuspended)
    }

    @Test func modemRestartLosesTheContextAndTheDriverBringsItBack() throws {
        let (rig, statuses) = try rig()
        try rig.start()
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        rig.emulator.powerCycle()
        rig.advance(.seconds(2))
        #expect(rig.waitFor { statuses.all.contains { !$0.contextActive } })
        rig.advance(.seconds(5))
        #expect(rig.waitFor { statuses.all.last?.contextActive == true })
        #expect(rig.emulator.dataActivations >= 1)
    }
}

@Suite struct NetworkTimeTests {
    @Test func theNetworksTimeIsReportedAfterEveryStart() throws {
        let rig = try ModemRig()
        let times = Collector<WallTime>(activity: rig.activity)
        rig.driver.onNetworkTime { time, _ in times.append(time) }
        try rig.start()
        #expect(rig.waitFor { !times.all.isEmpty })
        let wall = rig.clock.wallTime().millisecondsSince1970
        #expect(abs(times.all[0].millisecondsSince1970 - wall) < 5_000, "UTC from a +CCLK in local time with its zone")
    }
}
