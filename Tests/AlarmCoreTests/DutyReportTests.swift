import AlarmCore
import Testing

/// Reports that are not the alarm: the periodic test and the battery.
@Suite struct DutyReportTests {
    @Test func periodicTestEveryIntervalFromStart() {
        var h = Harness { $0.periodicTestInterval = .seconds(3600) }
        h.send(.started)
        #expect(h.advance(.seconds(3599)).reports.isEmpty)
        let first = h.advance(.seconds(1)).reports
        #expect(first.map(\.kind) == [.periodicTest])
        h.send(.report(sequence: first[0].sequence, .acknowledged))
        let second = h.advance(.seconds(3600)).reports
        #expect(second.map(\.kind) == [.periodicTest])
        #expect(second.first?.sequence != first.first?.sequence)
        var off = Harness { $0.periodicTestInterval = nil }
        off.send(.started)
        #expect(!off.advance(.seconds(200_000)).reports.contains { $0.kind == .periodicTest })
    }

    @Test func batteryLowOnceThenRestoreThenLowAgain() {
        var h = Harness()
        h.send(.power(PowerStatus(batteryPercent: 50, charging: false)))
        #expect(h.effects.reports.isEmpty)
        #expect(h.send(.power(PowerStatus(batteryPercent: 20, charging: false))).reports.map(\.kind) == [.batteryLow])
        #expect(h.send(.power(PowerStatus(batteryPercent: 19, charging: false))).reports.isEmpty)
        #expect(h.send(.power(PowerStatus(batteryPercent: 22, charging: false))).reports.isEmpty, "hysteresis: not yet restored")
        #expect(h.send(.power(PowerStatus(batteryPercent: 22, charging: true))).reports.map(\.kind) == [.batteryRestored])
        #expect(h.send(.power(PowerStatus(batteryPercent: 18, charging: false))).reports.map(\.kind) == [.batteryLow])
    }

    @Test func criticalBatteryCarriesThePositionAndGoesBySMSIfUnanswered() {
        var h = Harness { $0.smsFallbackNumber = "+3292000999" }
        h.send(.fix(brussels))
        h.send(.power(PowerStatus(batteryPercent: 4, charging: false)))
        let critical = h.effects.reports
        #expect(critical.map(\.kind) == [.batteryCritical])
        #expect(critical.first?.position != nil)
        #expect(h.send(.power(PowerStatus(batteryPercent: 3, charging: false))).reports.isEmpty)
        _ = h.advance(.seconds(11))
        #expect(h.all.smsReports.map(\.kind) == [.batteryCritical])
    }

    @Test func batteryReportsDoNotCountAsTheAlarmGettingThrough() {
        var h = Harness()
        h.trigger()
        h.send(.power(PowerStatus(batteryPercent: 10, charging: false)))
        let low = h.effects.reports.first { $0.kind == .batteryLow }!
        h.send(.report(sequence: low.sequence, .acknowledged))
        #expect(h.state.activeAlarm?.delivered == false)
        #expect(!h.indications.contains(.delivered))
    }
}

@Suite struct CentreCommandTests {
    @Test func positionNowAndSelfTestReport() {
        var h = Harness()
        h.send(.fix(brussels))
        #expect(h.send(.centre(CentreCommand(.positionNow))).reports.map(\.kind) == [.positionUpdate])
        #expect(h.send(.centre(CentreCommand(.selfTest))).reports.map(\.kind) == [.periodicTest])
    }

    @Test func callBackOutsideAnAlarmIsOneAttemptToThatNumber() {
        var h = Harness()
        h.send(.network(NetworkStatus(registration: .home)))
        let effects = h.send(.centre(CentreCommand(.callBack, argument: 2)))
        #expect(effects.dialled == ["+3220000002"])
        let call = h.currentCall!
        h.send(.call(call, .ended(.noAnswer)))
        _ = h.advance(.seconds(300))
        #expect(h.dials == ["+3220000002"], "no redial outside an alarm")
        #expect(h.send(.centre(CentreCommand(.callBack, argument: 3))).dialled.isEmpty, "no such centre number")
    }

    @Test func callBackDuringAnAlarmAfterTheCentreHungUp() {
        var h = Harness()
        h.send(.network(NetworkStatus(registration: .home)))
        h.trigger()
        let call = h.currentCall!
        h.send(.call(call, .connected))
        #expect(h.send(.centre(CentreCommand(.callBack, argument: 2))).dialled.isEmpty, "never while a call is up")
        h.send(.call(call, .ended(.normalClearing)))
        let again = h.send(.centre(CentreCommand(.callBack, argument: 2)))
        #expect(again.dialled == ["+3220000002"])
    }
}

@Suite struct TroubleTests {
    @Test func modemUnusableForLongIsReportedAndItsReturnToo() {
        var h = Harness { $0.modemTroubleAfter = .seconds(180) }
        h.send(.started)
        h.send(.network(NetworkStatus(registration: .home)))
        h.send(.network(.unknown))  // the modem stopped answering
        #expect(h.advance(.seconds(179)).reports.isEmpty)
        h.send(.network(.unknown))  // still gone: the watch is not restarted
        #expect(h.advance(.seconds(1)).reports.map(\.kind) == [.modemTrouble])
        #expect(h.send(.network(NetworkStatus(registration: .home))).reports.map(\.kind) == [.modemRestored])
        // A short hiccup is nothing.
        h.send(.network(.unknown))
        _ = h.advance(.seconds(60))
        h.send(.network(NetworkStatus(registration: .home)))
        #expect(Set(h.all.reports.filter { $0.kind == .modemTrouble }.map(\.sequence)).count == 1, "one report, however often resent")
    }

    @Test func noGNSSFixForLongIsReportedAndTheNextFixRestoresIt() {
        var h = Harness { $0.gnssTroubleAfter = .seconds(3600); $0.periodicTestInterval = nil }
        h.send(.started)
        _ = h.advance(.seconds(1800))
        h.send(.fix(brussels))  // a fix half-way: the watch counts from it
        #expect(h.advance(.seconds(3599)).reports.isEmpty)
        #expect(h.advance(.seconds(1)).reports.map(\.kind) == [.gnssTrouble])
        _ = h.advance(.seconds(7200))
        #expect(Set(h.all.reports.filter { $0.kind == .gnssTrouble }.map(\.sequence)).count == 1, "reported once")
        h.at(.seconds(1))
        #expect(h.send(.fix(brussels)).reports.map(\.kind) == [.gnssRestored])
        #expect(h.send(.fix(brussels)).reports.isEmpty)
    }
}
