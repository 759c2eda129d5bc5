import AlarmCore
import Testing

@Suite struct TriggerTests {
    @Test func shortPressDoesNothing() {
        var h = Harness()
        h.send(.button(.pressed))
        h.at(.milliseconds(1500))
        let effects = h.send(.button(.released))
        #expect(effects == [.cancelTimer(.triggerHold)])
        #expect(h.state.activeAlarm == nil)
        #expect(h.advance(.seconds(5)).isEmpty)
    }

    @Test func holdingTwoSecondsRaisesAlarmWithCallAndReportAtOnceWithoutAFix() {
        var h = Harness()
        h.send(.button(.pressed))
        #expect(h.effects == [.startTimer(.triggerHold, after: .seconds(2))])
        let effects = h.advance(.seconds(2))
        // The alarm is raised while the button is still held, with no fix known.
        #expect(h.state.activeAlarm != nil)
        #expect(effects.dialled == ["+3220000001"])
        #expect(effects.reports.map(\.kind) == [.alarm])
        #expect(effects.reports.first?.position == nil)
        #expect(effects.contains(.indicate(.alarmRaised)))
        #expect(!effects.contains(.indicate(.delivered)))
        #expect(effects.contains(.captureAudio(true)))
        #expect(effects.contains(.setPositionRate(.alarm)))
        // Releasing afterwards raises nothing more.
        let release = h.send(.button(.released))
        #expect(release.dialled.isEmpty && release.reports.isEmpty)
    }

    @Test func releaseTimestampDecidesWhenTheHoldTimerIsLate() {
        var h = Harness()
        h.send(.button(.pressed))
        h.at(.milliseconds(2100))
        let effects = h.send(.button(.released))
        #expect(effects.dialled.count == 1)
        // The late timer then finds nothing to do.
        #expect(h.send(.timer(.triggerHold)).isEmpty)
    }

    @Test func configurableHold() {
        var h = Harness { $0.triggerHold = .seconds(3) }
        h.send(.button(.pressed))
        #expect(h.advance(.milliseconds(2999)).isEmpty)
        #expect(h.advance(.milliseconds(1)).dialled.count == 1)
    }

    @Test func secondHoldDuringAlarmDoesNotStartAnotherAlarm() {
        var h = Harness()
        h.trigger()
        h.send(.button(.pressed))
        let effects = h.advance(.seconds(2))
        #expect(effects.milestones == [.triggerIgnored])
        #expect(h.state.alarmsRaised == 1)
    }
}
