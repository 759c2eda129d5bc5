import AlarmCore
import Testing

/// Sequences found in review that once went wrong.
@Suite struct EdgeCaseTests {
    static let limited = NetworkStatus(registration: .searching, emergencyCallsPossible: true)
    static let home = NetworkStatus(registration: .home, emergencyCallsPossible: true)

    @Test func unregisteredTimeCountsFromTheFirstReportNotFromBoot() {
        var h = Harness()
        h.now = Instant(sinceOrigin: .seconds(3600))  // the monotonic clock counts from machine boot
        h.send(.network(Self.limited))
        h.at(.seconds(3))
        h.trigger()
        #expect(h.dials.first == "+3220000001")
    }

    @Test func emergencyOperatorHangingUpDoesNotStopTheCentreCalls() throws {
        var h = Harness()
        h.send(.network(Self.limited))
        h.at(.seconds(61))
        h.trigger()
        #expect(h.dials.last == "112")
        let id = try #require(h.currentCall)
        h.send(.call(id, .connected))
        h.send(.call(id, .ended(.normalClearing)))
        h.send(.network(Self.home))
        _ = h.advance(.seconds(60))
        #expect(h.dials.contains("+3220000001"))
    }

    @Test func droppedCallbackAfterCentreHangUpIsRedialled() throws {
        var h = Harness()
        h.send(.network(Self.home))
        h.trigger()
        let id = try #require(h.currentCall)
        h.send(.call(id, .connected))
        h.send(.call(id, .ended(.normalClearing)))
        h.at(.seconds(30))
        h.send(.incomingCall(.incoming(1), caller: "+3220000001"))
        h.send(.call(.incoming(1), .connected))
        let before = h.dials.count
        h.send(.call(.incoming(1), .ended(.networkFailure)))
        #expect(h.dials.count == before + 1)
    }

    @Test func secondAlarmDuringTheFirstAlarmsCallIsDeliveredAndDialsWhenThatCallEnds() throws {
        var h = Harness()
        h.send(.network(Self.home))
        h.trigger()
        let id = try #require(h.currentCall)
        h.send(.call(id, .connected))
        h.send(.centre(.endAlarm))
        h.at(.seconds(10))
        h.trigger()
        #expect(h.state.activeAlarm?.number == 2)
        #expect(h.state.activeAlarm?.delivered == true)
        let before = h.dials.count
        h.send(.call(id, .ended(.normalClearing)))
        #expect(h.dials.count == before + 1)
    }

    @Test func repeatedRingOfTheCallBeingAnsweredIsNotRejected() throws {
        var h = Harness()
        h.send(.network(Self.home))
        h.trigger()
        let own = try #require(h.currentCall)
        h.send(.call(own, .connected))
        h.send(.call(own, .ended(.normalClearing)))
        h.send(.incomingCall(.incoming(7), caller: "+3220000001"))
        #expect(h.effects.contains(.answer(.incoming(7))))
        let repeated = h.send(.incomingCall(.incoming(7), caller: "+3220000001"))
        #expect(repeated.isEmpty)
    }

    @Test func emergencyDeadlineAbandonsAHangingCentreAttempt() throws {
        var h = Harness()
        h.send(.network(Self.limited))
        h.trigger()
        let hanging = try #require(h.currentCall)
        let effects = h.advance(.seconds(58))
        #expect(effects.contains(.hangUp(hanging)))
        #expect(h.dials.last == "112")
    }

    @Test func endCommandForAnEarlierAlarmIsIgnored() {
        var h = Harness()
        h.send(.network(Self.home))
        h.trigger()
        h.send(.centre(.endAlarm))
        h.at(.seconds(5))
        h.trigger()
        h.send(.centre(.endAlarm(1)))
        #expect(h.state.activeAlarm?.number == 2)
        h.send(.centre(.endAlarm(2)))
        #expect(h.state.activeAlarm == nil)
    }

    @Test func unknownAccuracyIsNeverFreshAndNeverTriggersMovementUpdates() {
        var h = Harness()
        h.trigger()
        var fix = brussels
        fix.horizontalAccuracy = .nan
        #expect(h.send(.fix(fix)).reports.isEmpty)
        #expect(h.state.lastFix != nil)
    }
}

@Suite struct RestoredFixTests {
    @Test func restoredFixIsReportedAsLastKnownWithItsAge() throws {
        var h = Harness()
        h.send(.restoredFix(brussels, age: .seconds(600)))
        h.trigger()
        let report = try #require(h.reports.first)
        #expect(report.position?.source == .lastKnown)
        #expect(report.positionAge == .seconds(602))
    }

    @Test func restoredFixNeverReplacesAFixReceivedSinceTheStart() {
        var h = Harness()
        h.send(.fix(moved(brussels, northMetres: 100)))
        h.send(.restoredFix(brussels, age: .seconds(600)))
        #expect(h.state.lastFix?.fix.latitude == moved(brussels, northMetres: 100).latitude)
    }
}

@Suite struct CivilTimeTests {
    @Test func roundTripsAcrossLeapDaysEpochAndBeforeIt() {
        for ms: Int64 in [0, -1, 951_782_400_000 /* 2000-02-29 */, 1_795_953_600_123, -86_400_000 * 365] {
            #expect(CivilTime(millisecondsSince1970: ms).millisecondsSince1970 == ms)
        }
        #expect(CivilTime(millisecondsSince1970: 1_795_953_600_123).iso8601 == "2026-11-29T12:00:00.123Z")
        #expect(CivilTime(millisecondsSince1970: -1).iso8601 == "1969-12-31T23:59:59.999Z")
        #expect(!CivilTime(year: 2026, month: 2, day: 29).isValid)
        #expect(CivilTime(year: 2024, month: 2, day: 29).isValid)
    }
}
