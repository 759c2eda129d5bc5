import AlarmCore
import AlarmRuntime
import HAL
import SimBackends
import Testing

@Suite struct AlarmScenarioTests {
    @Test func completeAlarmOnTheSimulatedWorld() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        #expect(s.runtime.status.registration == "home")

        s.button.press()
        s.advance(.milliseconds(1999))
        #expect(s.modem.dialledNumbers.isEmpty)
        s.advance(.milliseconds(1))
        let trigger = s.now
        // At the trigger instant, before any further time passes: dial and report are both out.
        #expect(s.modem.dialledNumbers == [Scenario.centre[0]])
        #expect(s.link.received.map(\.kind) == [.alarm])
        #expect(s.vibrator.played == [s.haptics.alarmRaised])
        s.button.release()

        // The centre acknowledges after its latency; only then does the wearer feel "delivered".
        s.advance(.milliseconds(100))
        #expect(s.vibrator.played == [s.haptics.alarmRaised, s.haptics.delivered])
        s.advance(.seconds(3))
        #expect(s.modem.activeCalls.count == 1)
        #expect(s.runtime.status.call?.connected == true)

        // Tracking: updates every 10 s with positions from the route.
        s.advance(.seconds(30))
        let updates = s.link.received.filter { $0.kind == .positionUpdate }
        #expect(updates.count >= 3)
        #expect(updates.allSatisfy { $0.position?.source == .gnss })
        #expect(s.audio.framesDelivered > 0)

        s.link.sendCommand(.endAlarm)
        #expect(s.runtime.status.mode == "after-alarm")
        let framesAtEnd = s.audio.framesDelivered
        s.advance(.seconds(60))
        #expect(s.audio.framesDelivered == framesAtEnd)
        #expect(s.link.received.filter { $0.kind == .positionUpdate }.count == updates.count + 0
                || s.link.received.count >= updates.count)
        // The whole story is on the timeline, in order.
        let categories = s.records.map(\.category)
        let order: [TimelineRecord.Category] = [.boot, .network, .trigger, .dial, .report, .reportAck, .delivered, .alarmEnd]
        var index = categories.startIndex
        for wanted in order {
            guard let found = categories[index...].firstIndex(of: wanted) else {
                Issue.record("timeline lacks \(wanted) after position \(index)")
                break
            }
            index = found
        }
        #expect(s.runtime.status.counters.reportsAcknowledged >= 4)
        _ = trigger
    }

    @Test func modemUnregisteredAtTriggerRegistersTwentySecondsLater() throws {
        let s = Scenario(modem: { $0.registerAfter = .seconds(3600); $0.network.emergencyCallsPossible = false })
        try s.start()
        s.pressAndHold()
        #expect(s.runtime.status.registration == "searching")
        // Nothing can get out yet, but the device keeps trying both paths.
        s.advance(.seconds(19))
        #expect(s.link.received.isEmpty)
        #expect(s.modem.dialledNumbers.count >= 2)
        #expect(s.vibrator.played == [s.haptics.alarmRaised])
        let alarmSequence = try #require(s.runtime.coreState.outbox.values.first { $0.report.kind == .alarm }).report.sequence

        var registered = s.modem.network
        registered.registration = .home
        let dialsBefore = s.modem.dialledNumbers.count
        s.modem.setNetwork(registered)
        // Registration cuts both backoffs short: the call goes out (at once, or as soon as an attempt
        // still in flight from before has failed) and the alarm report is resent at once.
        s.advance(.milliseconds(200))
        #expect(s.modem.dialledNumbers.count == dialsBefore + 1)
        #expect(s.link.received.first?.kind == .alarm)
        s.advance(.seconds(31))
        // The alarm report goes through with its original sequence number.
        #expect(s.link.received.first?.kind == .alarm)
        #expect(s.link.received.first?.sequence == alarmSequence)
        #expect(s.vibrator.played == [s.haptics.alarmRaised, s.haptics.delivered])
        #expect(s.runtime.status.call?.connected == true)
        #expect(!s.modem.dialledNumbers.contains("112"))
    }

    @Test func limitedServiceForAMinuteDialsTheEmergencyNumber() throws {
        let s = Scenario(modem: { $0.registerAfter = .seconds(3600); $0.network.emergencyCallsPossible = true })
        try s.start()
        s.pressAndHold()
        s.advance(.seconds(60))
        #expect(s.modem.dialledNumbers.last == "112")
        s.advance(.seconds(3))
        #expect(s.runtime.status.call?.number == "112")
        #expect(s.runtime.status.call?.connected == true)
        #expect(s.texts(.notice).contains { $0.contains("emergency number 112") })
        #expect(s.runtime.coreState.outbox.values.contains { $0.report.kind == .emergencyCallPlaced })
    }

    @Test func silentCentreGetsTheSameSequenceAgain() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        s.link.setBehaviour(.silent)
        s.pressAndHold()
        s.advance(.seconds(12))
        let alarms = s.link.received.filter { $0.kind == .alarm }
        #expect(alarms.count == 2)
        #expect(Set(alarms.map(\.sequence)).count == 1)
        #expect(s.texts(.report).contains { $0.contains("queued again (attempt 2)") })
        #expect(s.texts(.report).contains { $0.contains("resent (attempt 2) to the receiver") })
        s.link.setBehaviour(.acknowledge)
        s.advance(.seconds(15))
        #expect(s.runtime.coreState.outbox.values.allSatisfy { $0.report.kind != .alarm })
    }

    @Test func busyCentreMovesToTheSecondNumber() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        s.modem.queueOutcomes([.busy])
        s.pressAndHold()
        s.advance(.seconds(5))
        #expect(s.modem.dialledNumbers == Scenario.centre)
        s.advance(.seconds(3))
        #expect(s.runtime.status.call?.connected == true)
    }

    @Test func droppedCallIsRedialledButCentreHangUpIsNot() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        s.pressAndHold()
        s.advance(.seconds(3))
        s.modem.dropCalls()
        s.advance(.milliseconds(1))
        #expect(s.modem.dialledNumbers.count == 2)
        s.advance(.seconds(3))
        s.modem.centreHangsUp()
        s.advance(.seconds(120))
        #expect(s.modem.dialledNumbers.count == 2)
        #expect(s.runtime.status.mode == "alarm")
    }

    @Test func callbacksAnsweredOnlyInsideTheWindowAndOnlyFromTheCentre() throws {
        let s = Scenario(settings: { $0.callbackWindow = .seconds(600) })
        try s.start()
        s.advance(.seconds(1))
        // Before any alarm: a call claiming the centre's number is rejected.
        let early = s.modem.ring(from: Scenario.centre[0])
        s.advance(.seconds(1))
        #expect(s.modem.rejectedCalls == [early])
        #expect(s.modem.answeredCalls.isEmpty)

        s.pressAndHold()
        s.advance(.seconds(3))
        s.modem.centreHangsUp()
        let stranger = s.modem.ring(from: "+32470999999")
        let withheld = s.modem.ring(from: nil)
        let centre = s.modem.ring(from: Scenario.centre[1])
        s.advance(.seconds(1))
        #expect(s.modem.rejectedCalls == [early, stranger, withheld])
        #expect(s.modem.answeredCalls == [centre])
        #expect(s.runtime.status.call?.connected == true)
        s.modem.centreHangsUp()

        s.link.sendCommand(.endAlarm)
        s.advance(.seconds(601))
        let late = s.modem.ring(from: Scenario.centre[0])
        s.advance(.seconds(1))
        #expect(s.modem.rejectedCalls.last == late)
    }

    @Test func timelineAndStatusCarryNoCoordinatesInTheTimeline() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        s.pressAndHold()
        s.advance(.seconds(30))
        let fix = try #require(s.runtime.status.lastFix)
        let latitudeDigits = String(String(fix.latitude).prefix(6))
        #expect(!s.records.contains { $0.text.contains(latitudeDigits) || $0.text.contains("51.05") })
    }

    @Test func reportSequenceSurvivesARestart() throws {
        let store = InMemoryRecordStore()
        let first = Scenario(store: store)
        try first.start()
        first.advance(.seconds(1))
        first.pressAndHold()
        first.advance(.seconds(25))
        let last = try #require(first.link.received.map(\.sequence).max())
        first.runtime.flushPersistence()

        let second = Scenario(store: store)
        try second.start()
        second.advance(.seconds(1))
        second.pressAndHold()
        #expect(second.link.received.first?.sequence == last + 1)
    }
}

@Suite struct RuntimeRobustnessTests {
    @Test func fixWithUnknownAccuracyDoesNotCrashTheTimelineOrStatus() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        s.pressAndHold()
        s.position.setFix(latitude: 51.05, longitude: 3.72, accuracy: .nan)
        s.position.setFix(latitude: 51.05, longitude: 3.72, accuracy: .infinity)
        s.advance(.seconds(11))
        #expect(s.texts(.report).contains { $0.contains("±? m") })
        #expect(StatusText.render(s.runtime.status).contains("±? m"))
    }

    @Test func zeroDelayTimersAreNotLost() throws {
        let s = Scenario(settings: { $0.reportRetryInitialDelay = .zero; $0.reportAckTimeout = .seconds(1) })
        try s.start()
        s.advance(.seconds(1))
        s.link.setBehaviour(.reject)
        s.pressAndHold()
        s.advance(.seconds(3))
        #expect(s.runtime.status.counters.reportResends >= 2)
    }
}
