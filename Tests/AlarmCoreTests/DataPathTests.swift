import AlarmCore
import Testing

extension Array where Element == Effect {
    var smsReports: [Report] { compactMap { if case .sendSMS(_, let r) = $0 { r } else { nil } } }
}

/// What the core does when the data supervisor says IP cannot carry reports.
@Suite struct DataPathTests {
    func harness() -> Harness {
        var h = Harness { $0.smsFallbackNumber = "+3292000999" }
        h.send(.network(NetworkStatus(registration: .home, signal: 20)))
        h.send(.fix(brussels))
        return h
    }

    @Test func alarmWithoutDataGoesBySMSAtOnceAndStillTriesIP() {
        var h = harness()
        h.send(.dataPath(.down))
        h.trigger()
        let alarm = h.all.reports.filter { $0.kind == .alarm }
        #expect(alarm.count == 1)  // IP keeps trying in the background
        #expect(h.all.smsReports.map(\.kind) == [.alarm])
        #expect(h.all.smsReports.first?.sequence == alarm.first?.sequence)
        #expect(h.dials == ["+3220000001"])
    }

    @Test func losingDataSendsUnacknowledgedAlarmBySMSButNotAnAcknowledgedOne() {
        var h = harness()
        h.send(.dataPath(.up))
        h.trigger()
        #expect(h.all.smsReports.isEmpty)
        h.send(.dataPath(.down))
        #expect(h.effects.smsReports.map(\.kind) == [.alarm])

        var acked = harness()
        acked.send(.dataPath(.up))
        acked.trigger()
        let sequence = acked.all.reports[0].sequence
        acked.send(.report(sequence: sequence, .acknowledged))
        acked.send(.dataPath(.down))
        #expect(acked.effects.smsReports.isEmpty)
    }

    @Test func positionsGoBySMSAtMostOnceAMinuteNewestFirst() {
        var h = harness()
        h.send(.dataPath(.up))
        h.trigger()
        h.send(.report(sequence: h.all.reports[0].sequence, .acknowledged))
        h.send(.dataPath(.suspended))
        // Updates every 10 s for three minutes while the data is held.
        var smsTimes: [Duration] = []
        let start = h.now
        for _ in 0..<18 {
            let fired = h.advance(.seconds(10))
            if !fired.smsReports.isEmpty { smsTimes.append(h.now - start) }
            for sms in fired.smsReports { #expect(sms.kind == .positionUpdate) }
        }
        #expect(smsTimes.count == 3, "one SMS a minute over three minutes, got \(smsTimes)")
        for (a, b) in zip(smsTimes, smsTimes.dropFirst()) { #expect(b - a >= .seconds(60)) }
        // Each SMS carries the newest update queued at its moment.
        let sms = h.all.smsReports
        let newestQueued = h.all.reports.filter { $0.kind == .positionUpdate }.map(\.sequence)
        for report in sms { #expect(newestQueued.contains(report.sequence)) }
    }

    @Test func dataReturningFlushesOverIPAndStopsPositionSMS() {
        var h = harness()
        h.send(.dataPath(.up))
        h.trigger()
        h.send(.report(sequence: h.all.reports[0].sequence, .acknowledged))
        h.send(.dataPath(.suspended))
        _ = h.advance(.seconds(10))  // an update goes by SMS at once
        #expect(h.all.smsReports.count == 1)
        // The IP copy fails (data held) and waits out a backoff.
        let update = h.all.reports.last!
        h.send(.report(sequence: update.sequence, .failed(.notReady)))
        #expect(h.timers[.reportRetry(update.sequence)] != nil)
        let smsBefore = h.all.smsReports.count
        let resent = h.send(.dataPath(.up)).reports
        #expect(resent.map(\.sequence) == [update.sequence], "a report waiting out its backoff goes at once, same sequence")
        #expect(h.timers[.positionSMSDue] == nil)
        _ = h.advance(.seconds(120))
        #expect(h.all.smsReports.count == smsBefore)
    }

    @Test func flappingWithinTheSameVerdictChangesNothing() {
        var h = harness()
        h.send(.dataPath(.down))
        let effects = h.send(.dataPath(.suspended))
        #expect(effects.isEmpty)
        h.send(.dataPath(.up))
        #expect(h.send(.dataPath(.unsupervised)).isEmpty)  // both carry reports
    }

    @Test func withoutAnSMSNumberNothingIsSentBySMS() {
        var h = Harness()
        h.send(.network(NetworkStatus(registration: .home)))
        h.send(.dataPath(.down))
        h.trigger()
        _ = h.advance(.seconds(180))
        #expect(h.all.smsReports.isEmpty)
        #expect(!h.all.reports.isEmpty)
    }

    @Test func endingTheAlarmStopsPositionSMS() {
        var h = harness()
        h.send(.dataPath(.down))
        h.trigger()
        _ = h.advance(.seconds(10))
        _ = h.advance(.seconds(10))
        #expect(h.timers[.positionSMSDue] != nil)
        h.send(.centre(.endAlarm))
        #expect(h.timers[.positionSMSDue] == nil)
        let before = h.all.smsReports.count
        _ = h.advance(.seconds(300))
        #expect(h.all.smsReports.count == before)
    }
}

@Suite struct RefusedReportTests {
    @Test func refusedAlarmGoesBySMSAtOnceAndIsStillRetriedOverIP() {
        // DUH may come from the receiver or from anyone on the path: the alarm is never given up over IP.
        var h = Harness { $0.smsFallbackNumber = "+3292000999" }
        h.send(.network(NetworkStatus(registration: .home)))
        h.trigger()
        let alarm = h.all.reports[0].sequence
        h.send(.report(sequence: alarm, .refused))
        #expect(h.effects.smsReports.map(\.sequence) == [alarm])
        #expect(h.timers[.reportAck(alarm)] == nil)
        #expect(h.timers[.reportRetry(alarm)] != nil)
        let retried = h.advance(.seconds(2)).reports
        #expect(retried.contains { $0.sequence == alarm })
        h.send(.sms(sequence: alarm, accepted: true))
        #expect(h.state.activeAlarm?.delivered == true)
        // The centre's system still needs the IP copy: it stays until acknowledged.
        #expect(h.state.outbox[alarm] != nil)
        h.send(.report(sequence: alarm, .acknowledged))
        #expect(h.state.outbox[alarm] == nil)
    }

    @Test func alarmNAKedForAMinuteIsRetriedThroughoutWithCappedBackoffThenDelivered() {
        var h = Harness { $0.smsFallbackNumber = "+3292000999" }
        h.send(.network(NetworkStatus(registration: .home)))
        h.trigger()
        let alarm = h.all.reports[0].sequence
        var sentAt: [Instant] = [h.now]
        // The receiver NAKs every copy (a far-off time, a forger on the path) for five minutes.
        let end = h.now + .seconds(300)
        h.send(.report(sequence: alarm, .rejected))
        while h.now < end {
            let fired = h.advance(.seconds(1))
            if fired.reports.contains(where: { $0.sequence == alarm }) {
                sentAt.append(h.now)
                h.send(.report(sequence: alarm, .rejected))
            }
        }
        let gaps = zip(sentAt.dropFirst(), sentAt).map { $0 - $1 }
        #expect(gaps.count >= 10, "\(gaps)")
        #expect(gaps.allSatisfy { $0 <= .seconds(31) }, "\(gaps)")
        #expect(h.all.smsReports.map(\.sequence) == [alarm])
        h.send(.report(sequence: alarm, .acknowledged))
        #expect(h.state.outbox[alarm] == nil)
        #expect(h.state.activeAlarm?.delivered == true)
    }

    @Test func refusedPositionIsDropped() {
        var h = Harness { $0.smsFallbackNumber = "+3292000999" }
        h.send(.network(NetworkStatus(registration: .home)))
        h.send(.fix(brussels))
        h.trigger()
        h.send(.report(sequence: h.all.reports[0].sequence, .acknowledged))
        _ = h.advance(.seconds(10))
        let update = h.all.reports.last!
        #expect(update.kind == .positionUpdate)
        h.send(.report(sequence: update.sequence, .refused))
        #expect(h.state.outbox[update.sequence] == nil)
        #expect(h.effects.smsReports.isEmpty)
    }
}
