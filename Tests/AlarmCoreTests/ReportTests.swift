import AlarmCore
import Testing

@Suite struct ReportTests {
    @Test func laterFixProducesUpdateWithThePosition() throws {
        var h = Harness()
        h.trigger()
        #expect(h.reports.first?.position == nil)
        h.at(.seconds(3))
        let effects = h.send(.fix(brussels))
        #expect(effects.reports.map(\.kind) == [.positionUpdate])
        #expect(effects.reports.first?.position?.source == .gnss)
        #expect(effects.reports.first?.position?.latitude == brussels.latitude)
    }

    @Test func alarmReportCarriesLastKnownFixWithItsAge() throws {
        var h = Harness()
        h.send(.fix(brussels))
        h.at(.seconds(300))
        h.trigger()
        let alarm = h.reports.first!
        #expect(alarm.position?.source == .lastKnown)
        #expect(alarm.positionAge == .seconds(302))
    }

    @Test func freshFixUsedAtOnce() throws {
        var h = Harness()
        h.send(.button(.pressed))
        h.at(.seconds(1))
        h.send(.fix(brussels))
        _ = h.advance(.seconds(1))
        #expect(h.reports.first?.position?.source == .gnss)
    }

    @Test func reportTimeoutResendsWithSameSequenceAndBackoff() throws {
        var h = Harness()
        h.trigger()
        let alarm = h.reports[0]
        #expect(h.advance(.seconds(10)).reports.isEmpty)   // ack timeout fires, retry scheduled
        let resent = h.advance(.seconds(1)).reports
        #expect(resent.map(\.sequence) == [alarm.sequence])
        #expect(resent.first == alarm)
        // The second retry waits longer.
        #expect(h.advance(.seconds(10)).reports.isEmpty)
        #expect(h.advance(.seconds(1)).reports.isEmpty)
        #expect(h.advance(.seconds(1)).reports.map(\.sequence) == [alarm.sequence])
    }

    @Test func ackIsDeliveryOnceAndStopsResends() throws {
        var h = Harness()
        h.trigger()
        let alarm = h.reports[0]
        h.send(.report(sequence: alarm.sequence, .acknowledged))
        #expect(h.effects.contains(.indicate(.delivered)))
        #expect(h.effects.contains(.cancelTimer(.reportAck(alarm.sequence))))
        #expect(h.state.outbox[alarm.sequence] == nil)
        // A duplicate ACK changes nothing.
        #expect(h.send(.report(sequence: alarm.sequence, .acknowledged)).isEmpty)
    }

    @Test func deliveredOnlyAfterDelivery() throws {
        var h = Harness()
        h.trigger()
        let alarm = h.reports[0]
        h.send(.report(sequence: alarm.sequence, .rejected))
        h.send(.report(sequence: alarm.sequence, .failed(.notReady)))
        h.send(.call(try #require(h.currentCall), .alerting))
        #expect(h.indications == [.alarmRaised])
    }

    @Test func alarmGoesBySMSWhenNoReceiverAcknowledgesInTime() throws {
        var h = Harness { $0.smsFallbackNumber = "+32470000000" }
        h.trigger()
        let seq = h.reports[0].sequence
        var sms: [Report] = []
        h.send(.report(sequence: seq, .failed(.notReady)))
        #expect(h.advance(.milliseconds(9_900)).compactMap { if case .sendSMS = $0 { 1 } else { nil } }.isEmpty)
        _ = h.advance(.seconds(120))
        for case .sendSMS(let to, let r) in h.all where to == "+32470000000" { sms.append(r) }
        #expect(sms.map(\.sequence) == [seq])
        h.send(.sms(sequence: seq, accepted: true))
        #expect(h.effects.milestones == [.delivered(.sms)])
    }

    @Test func periodicUpdatesAndMovementUpdates() throws {
        var h = Harness { $0.fixFreshness = .seconds(30) }
        h.send(.fix(brussels))
        h.trigger()
        let periodic = h.advance(.seconds(10)).reports
        #expect(periodic.map(\.kind) == [.positionUpdate])
        // A fix within the accuracy radius does not trigger an extra update...
        h.at(.seconds(1))
        #expect(h.send(.fix(moved(brussels, northMetres: 5))).reports.isEmpty)
        // ...moving beyond it does, and it carries the earlier positions.
        h.at(.seconds(1))
        let update = h.send(.fix(moved(brussels, northMetres: 40))).reports
        #expect(update.count == 1)
        #expect(update.first?.previousPositions.first?.latitude == brussels.latitude)
    }

    @Test func newerUpdateSupersedesUnacknowledgedOlderOneButNeverTheAlarm() throws {
        var h = Harness()
        h.send(.fix(brussels))
        h.trigger()
        let alarmSeq = h.reports[0].sequence
        _ = h.advance(.seconds(10))
        _ = h.advance(.seconds(10))
        let kinds = h.state.outbox.values.map(\.report.kind)
        #expect(kinds.filter { $0 == .positionUpdate }.count == 1)
        #expect(h.state.outbox[alarmSeq] != nil)
    }

    @Test func sequenceWrapsAfter9999() throws {
        var h = Harness()
        h.state.nextSequence = 9999
        h.trigger()
        h.send(.fix(brussels))
        #expect(h.reports.map(\.sequence) == [9999, 1])
    }

    @Test func reportsOutliveTheAlarm() throws {
        var h = Harness { $0.trackingDuration = .seconds(30) }
        h.trigger()
        let seq = h.reports[0].sequence
        h.send(.centre(.endAlarm))
        #expect(h.state.activeAlarm == nil)
        let later = h.advance(.seconds(12)).reports
        #expect(later.map(\.sequence).contains(seq))
    }
}

@Suite struct AlarmLifecycleTests {
    @Test func trackingWindowEndsTheAlarm() throws {
        var h = Harness { $0.trackingDuration = .seconds(60); $0.trackingInterval = .seconds(10) }
        h.send(.fix(brussels))
        h.trigger()
        h.send(.call(try #require(h.currentCall), .connected))
        let effects = h.advance(.seconds(60))
        #expect(effects.reports.filter { $0.kind == .positionUpdate }.count >= 5)
        #expect(effects.milestones.contains(.alarmEnded(.trackingExpired)))
        #expect(effects.reports.last?.kind == .trackingEnded)
        #expect(effects.contains(.captureAudio(false)))
        #expect(effects.contains(.setPositionRate(.idle)))
        #expect(h.state.activeAlarm == nil)
        // The connected call is left to the centre; nothing more is sent on a timer.
        #expect(!effects.contains { if case .hangUp = $0 { true } else { false } })
        #expect(h.advance(.seconds(60)).reports.allSatisfy { $0.kind != .positionUpdate })
    }

    @Test func centreEndsAlarmAndPendingDialIsAbandoned() throws {
        var h = Harness()
        h.trigger()
        let call = try #require(h.currentCall)
        let effects = h.send(.centre(.endAlarm))
        #expect(effects.contains(.hangUp(call)))
        #expect(effects.milestones == [.centreCommand(.endAlarm, .actedOn), .alarmEnded(.centreEnded)])
        #expect(h.advance(.seconds(120)).dialled.isEmpty)
    }

    @Test func cancelGestureIsReportedAndDoesNotStopTheCall() throws {
        var h = Harness { $0.cancelGesture = CancelGesture(presses: 3, within: .seconds(3)) }
        h.trigger()
        let call = try #require(h.currentCall)
        for _ in 0..<3 {
            h.at(.milliseconds(300))
            h.send(.button(.pressed))
            h.at(.milliseconds(200))
            h.send(.button(.released))
        }
        #expect(h.effects.milestones == [.cancelRequested])
        #expect(h.effects.reports.map(\.kind) == [.cancelRequested])
        #expect(!h.all.contains(.hangUp(call)))
        #expect(h.state.activeAlarm != nil)
    }

    @Test func cancelGestureOffByDefault() throws {
        var h = Harness()
        h.trigger()
        for _ in 0..<5 {
            h.at(.milliseconds(300))
            h.send(.button(.pressed))
            h.at(.milliseconds(200))
            h.send(.button(.released))
        }
        #expect(!h.all.milestones.contains(.cancelRequested))
    }

    @Test func wholeAlarmSequence() throws {
        // The complete happy path as one transition sequence.
        var h = Harness()
        h.send(.network(NetworkStatus(registration: .home, signal: 18)))
        h.send(.button(.pressed))
        var effects = h.advance(.seconds(2))
        let call = try #require(h.currentCall)
        let alarm = h.reports[0]
        #expect(effects == [
            .announce(.alarmRaised(alarmNumber: 1)),
            .indicate(.alarmRaised),
            .cancelTimer(.redial),
            .dial(call, number: "+3220000001"),
            .startTimer(.callSetup, after: .seconds(60)),
            .sendReport(alarm),
            .startTimer(.reportAck(alarm.sequence), after: .seconds(10)),
            .setPositionRate(.alarm),
            .captureAudio(true),
            .startTimer(.trackingTick, after: .seconds(10)),
            .startTimer(.trackingEnd, after: .seconds(3600)),
        ])
        effects = h.send(.report(sequence: alarm.sequence, .acknowledged))
        #expect(effects == [
            .cancelTimer(.reportAck(alarm.sequence)), .cancelTimer(.reportRetry(alarm.sequence)),
            .cancelTimer(.smsFallback(alarm.sequence)), .indicate(.delivered), .announce(.delivered(.report)),
        ])
        h.send(.call(call, .connected))
        #expect(h.effects == [.cancelTimer(.callSetup), .cancelTimer(.redial)])
    }
}

@Suite struct SMSFallbackTimingTests {
    @Test func anAcknowledgedAlarmNeverGoesBySMS() {
        var h = Harness { $0.smsFallbackNumber = "+32470000000" }
        h.trigger()
        h.at(.seconds(3))
        h.send(.report(sequence: h.reports[0].sequence, .acknowledged))
        #expect(h.timers[.smsFallback(h.reports[0].sequence)] == nil)
        _ = h.advance(.seconds(60))
        #expect(!h.all.contains { if case .sendSMS = $0 { true } else { false } })
    }

    @Test func positionsDoNotStartTheAlarmSMSTimer() {
        var h = Harness { $0.smsFallbackNumber = "+32470000000" }
        h.send(.fix(brussels))
        h.trigger()
        h.send(.report(sequence: h.reports[0].sequence, .acknowledged))
        _ = h.advance(.seconds(10))
        let update = h.all.reports.last!
        #expect(update.kind == .positionUpdate)
        #expect(h.timers[.smsFallback(update.sequence)] == nil)
    }
}
