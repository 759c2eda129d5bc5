import AlarmCore
import Testing

/// The button's device going and coming back (`Input.buttonHealth`): trouble only after the grace, the restore only
/// after a trouble report, presses around an outage judged on the edges the backend delivers.
@Suite struct ButtonHealthTests {
    static let grace = Duration.seconds(5)

    func harness() -> Harness {
        var h = Harness { $0.periodicTestInterval = nil; $0.buttonTroubleAfter = Self.grace }
        h.send(.started)
        h.send(.buttonHealth(.available))
        return h
    }

    func kinds(_ effects: [Effect]) -> [ReportKind] { effects.reports.map(\.kind) }

    @Test func aButtonLostBeyondTheGraceIsTroubleAndItsReturnIsRestored() {
        var h = harness()
        #expect(h.send(.buttonHealth(.lost)) == [.startTimer(.buttonTrouble, after: Self.grace)])
        #expect(h.advance(Self.grace - .milliseconds(1)).isEmpty)
        // Still lost (a failed reopen says nothing new): the watch is not restarted.
        #expect(h.send(.buttonHealth(.lost)).isEmpty)
        let trouble = h.advance(.milliseconds(1))
        #expect(kinds(trouble) == [.buttonTrouble])
        #expect(trouble.first == .sendReport(trouble.reports[0]))
        #expect(h.state.buttonTroubleReported)

        h.at(.seconds(60))
        let restored = h.send(.buttonHealth(.available))
        #expect(kinds(restored) == [.buttonRestored])
        #expect(restored == [.sendReport(restored.reports[0]), .startTimer(.reportAck(restored.reports[0].sequence), after: .seconds(10))])
        #expect(h.state.buttonLostSince == nil && !h.state.buttonTroubleReported)
        // Reported once each, however long it lasted.
        #expect(kinds(h.all) == [.buttonTrouble, .buttonRestored])
    }

    @Test func aReopenWithinTheGraceReportsNothing() {
        var h = harness()
        h.send(.buttonHealth(.lost))
        #expect(h.timers[.buttonTrouble] == h.now + Self.grace)
        h.at(.milliseconds(500))  // the backend's first retry
        // The reopen was seen: the watch is called off.
        #expect(h.send(.buttonHealth(.available)) == [.cancelTimer(.buttonTrouble)])
        #expect(h.timers[.buttonTrouble] == nil)
        #expect(h.advance(.seconds(600)).isEmpty)
        #expect(h.all.reports.isEmpty, "no trouble, and no restore without a trouble")

        // The watch still works for the next outage.
        h.send(.buttonHealth(.lost))
        #expect(kinds(h.advance(Self.grace)) == [.buttonTrouble])
    }

    @Test func noRestoreWithoutATroubleReport() {
        var h = harness()
        #expect(h.send(.buttonHealth(.available)).isEmpty, "opened twice: nothing to say")
        #expect(h.all.reports.isEmpty)
    }

    @Test func aPressHeldAcrossAReopenRaisesTheAlarm() {
        var h = harness()
        h.send(.button(.pressed))
        h.at(.milliseconds(300))
        h.send(.buttonHealth(.lost))
        h.at(.milliseconds(500))
        // Reopened and the key read as held: the backend delivers no edge (the press was already delivered).
        #expect(h.send(.buttonHealth(.available)) == [.cancelTimer(.buttonTrouble)])
        let raised = h.advance(.milliseconds(1200))
        #expect(raised.milestones == [.alarmRaised(alarmNumber: 1)])
        #expect(h.now == Instant.origin + .seconds(2), "raised 2 s after the press, across the outage")
    }

    @Test func aPressMadeWhileTheDeviceWasGoneCountsFromTheRead() {
        var h = harness()
        h.send(.buttonHealth(.lost))
        h.at(.seconds(1))
        h.send(.buttonHealth(.available))
        // The backend read the key as held and synthesised the press, stamped with the read.
        h.send(.button(.pressed))
        #expect(h.advance(.milliseconds(1999)).milestones.isEmpty)
        #expect(h.advance(.milliseconds(1)).milestones == [.alarmRaised(alarmNumber: 1)])
    }

    @Test func aReleaseFoundAtTheReopenEndsThePressAndTheNextPressRaises() {
        var h = harness()
        h.send(.button(.pressed))
        h.at(.milliseconds(200))
        h.send(.buttonHealth(.lost))
        h.at(.milliseconds(600))
        h.send(.buttonHealth(.available))
        // Released while the device was gone: the synthesised release, stamped at the read (0.8 s: a short press).
        #expect(h.send(.button(.released)) == [.cancelTimer(.triggerHold)])
        #expect(h.advance(.seconds(5)).milestones.isEmpty)
        h.send(.button(.pressed))
        #expect(h.advance(.seconds(2)).milestones == [.alarmRaised(alarmNumber: 1)])
    }

    @Test func aTroubleReportedBeforeARestartIsRestoredAfterIt() {
        var before = harness()
        before.send(.buttonHealth(.lost))
        _ = before.advance(Self.grace)
        let saved = before.state.durable
        #expect(saved.buttonTroubleReported == true)

        var after = Harness { $0.periodicTestInterval = nil }
        after.send(.resumed(saved))
        after.send(.started)
        #expect(kinds(after.send(.buttonHealth(.available))) == [.buttonRestored])
    }

    @Test func aJournalFromBeforeButtonSupervisionStillResumes() throws {
        var h = harness()
        h.trigger()
        var saved = h.state.durable
        saved.buttonTroubleReported = nil
        var after = Harness()
        after.send(.resumed(saved))
        #expect(after.state.activeAlarm?.number == 1)
        #expect(!after.state.buttonTroubleReported)
    }

    @Test func theTestReportCarriesTheButtonsHealthAndOtherReportsDoNot() {
        var h = harness()
        h.send(.centre(CentreCommand(.selfTest)))
        #expect(h.effects.reports.map(\.button) == [.available])
        h.send(.buttonHealth(.lost))
        h.send(.centre(CentreCommand(.selfTest)))
        #expect(h.effects.reports.map(\.button) == [.lost])
        h.trigger()
        #expect(h.all.reports.filter { $0.kind != .periodicTest }.allSatisfy { $0.button == nil })
        #expect(h.all.reports.contains { $0.kind == .alarm })
    }
}

/// Every centre command gets exactly one outcome milestone, and an ignored one says why.
@Suite struct CentreCommandOutcomeTests {
    func outcome(_ effects: [Effect]) -> [CentreCommandOutcome] {
        effects.milestones.compactMap { if case .centreCommand(_, let outcome) = $0 { outcome } else { nil } }
    }

    @Test func anEndForAnEarlierAlarmDuringTheNextIsIgnoredAndSaysWhichIsActive() {
        var h = Harness()
        h.trigger()
        #expect(outcome(h.send(.centre(.endAlarm(1)))) == [.actedOn])
        h.trigger()
        #expect(h.state.activeAlarm?.number == 2)
        let late = h.send(.centre(.endAlarm(1)))
        #expect(late.milestones == [.centreCommand(.endAlarm(1), .notTheActiveAlarm(active: 2))])
        #expect(late.count == 1, "nothing but the record")
        #expect(h.state.activeAlarm?.number == 2)
        let current = h.send(.centre(.endAlarm(2)))
        #expect(current.milestones == [.centreCommand(.endAlarm(2), .actedOn), .alarmEnded(.centreEnded)])
    }

    @Test func anEndWithNoAlarmActiveIsIgnored() {
        var h = Harness()
        #expect(h.send(.centre(.endAlarm(3))) == [.announce(.centreCommand(.endAlarm(3), .notTheActiveAlarm(active: nil)))])
        #expect(h.send(.centre(.endAlarm)) == [.announce(.centreCommand(.endAlarm, .noActiveAlarm))])
    }

    @Test func callBackOutcomes() {
        var h = Harness()
        #expect(outcome(h.send(.centre(CentreCommand(.callBack, argument: 3)))) == [.noSuchCentreNumber])
        #expect(outcome(h.send(.centre(CentreCommand(.callBack, argument: 0)))) == [.noSuchCentreNumber])
        let call = h.send(.centre(CentreCommand(.callBack, argument: 2)))
        #expect(outcome(call) == [.actedOn])
        #expect(call.dialled == ["+3220000002"])
        #expect(outcome(h.send(.centre(CentreCommand(.callBack, argument: 1)))) == [.callInProgress])
    }

    @Test func aCallBackOnABoardWithoutCentreNumbersIsIgnoredNotACrash() {
        var h = Harness { $0.centreNumbers = [] }
        #expect(outcome(h.send(.centre(CentreCommand(.callBack, argument: 1)))) == [.noSuchCentreNumber])
    }

    @Test func aPositionRequestWithNothingToReportIsIgnored() {
        var h = Harness()
        #expect(outcome(h.send(.centre(CentreCommand(.positionNow)))) == [.noPositionKnown])
        h.send(.fix(brussels))
        let sent = h.send(.centre(CentreCommand(.positionNow)))
        #expect(outcome(sent) == [.actedOn])
        #expect(sent.reports.map(\.kind) == [.positionUpdate])
    }
}
