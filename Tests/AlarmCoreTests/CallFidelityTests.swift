import FoundationEssentials
import AlarmCore
import Testing

/// The centre's call against what real modems and aggressors do: calls the modem kept across a restart are adopted,
/// never dialled over; a forged caller ID never takes the alarm's line or the microphone.
@Suite struct CallAdoptionTests {
    static let home = NetworkStatus(registration: .home, signal: 20)

    /// A harness resumed from the journal of an alarm that was raised (its call placed, not yet answered) before a
    /// restart.
    func resumedAlarm() throws -> Harness {
        var before = Harness()
        before.send(.network(Self.home))
        before.trigger()
        #expect(before.state.activeAlarm?.centreReached == false)
        var h = Harness()
        h.send(.resumed(before.state.durable))
        return h
    }

    @Test func resumedAlarmAdoptsTheCentreCallTheModemKeptAndNeverDialsOverIt() throws {
        var h = try resumedAlarm()
        // The resume dials at once, but the modem is not ready yet (its call list has not been read).
        let attempt = try #require(h.currentCall)
        h.send(.call(attempt, .ended(.dialFailed(.notReady))))
        #expect(h.timers[.redial] != nil)
        // The driver's start-up lists the call the previous process placed: it is taken over.
        let kept = ExistingCall(id: .existing(1), outgoing: true, number: "+3220000001", status: .active)
        let adopted = h.send(.existingCall(kept))
        #expect(h.state.call == CallState(id: .existing(1), number: "+3220000001", connected: true, emergency: false))
        #expect(adopted.contains(.cancelTimer(.redial)))
        #expect(adopted.milestones.contains(.callAdopted(number: "+3220000001", connected: true)))
        #expect(!adopted.contains { if case .hangUp = $0 { true } else { false } })
        #expect(h.state.activeAlarm?.centreReached == true)
        // Registration arriving afterwards dials nothing, and nothing is dialled while the call lasts.
        h.send(.network(Self.home))
        #expect(h.advance(.seconds(120)).dialled.isEmpty)
        #expect(h.effects.dialled.isEmpty)
        // The centre hangs up the adopted call: it is ours, so that is the centre's decision.
        h.send(.call(.existing(1), .ended(.normalClearing)))
        #expect(h.effects.milestones == [.centreHungUp])
        #expect(h.advance(.seconds(60)).dialled.isEmpty)
    }

    @Test func adoptedCallStillRingingAtTheCentreIsWatchedBySetupTimeout() throws {
        var h = try resumedAlarm()
        h.send(.call(try #require(h.currentCall), .ended(.dialFailed(.notReady))))
        h.send(.existingCall(ExistingCall(id: .existing(1), outgoing: true, number: "+3220000002", status: .alerting)))
        #expect(h.effects.contains(.startTimer(.callSetup, after: h.machine.settings.callSetupTimeout)))
        #expect(h.state.activeAlarm?.centreReached == false)
        h.send(.call(.existing(1), .connected))
        #expect(h.effects.milestones == [.delivered(.call)])
        #expect(h.state.activeAlarm?.centreReached == true)
    }

    @Test func everyOtherExistingCallIsEndedOnItsOwn() throws {
        var h = try resumedAlarm()
        h.send(.call(try #require(h.currentCall), .ended(.dialFailed(.notReady))))
        // An incoming call (even from a centre number), a stranger's outgoing call, a held centre call.
        let others = [
            ExistingCall(id: .existing(1), outgoing: false, number: "+3220000001", status: .active),
            ExistingCall(id: .existing(2), outgoing: true, number: "+32470666666", status: .active),
            ExistingCall(id: .existing(3), outgoing: true, number: "+3220000001", status: .held),
        ]
        for other in others {
            let effects = h.send(.existingCall(other))
            #expect(effects.contains(.hangUp(other.id)))
            #expect(h.state.call == nil)
        }
        #expect(h.state.activeAlarm?.centreReached == false)
        // The alarm's own dial cycle goes on.
        h.send(.network(Self.home))
        #expect(h.effects.dialled == ["+3220000002"])
    }

    @Test func keptCallListedBeforeTheResumedDialFailedIsAdoptedAndTheAttemptGivesWay() throws {
        // The resume dials at once; the driver's list arrives before the refusal of that dial does.
        var h = try resumedAlarm()
        let attempt = try #require(h.currentCall)
        let effects = h.send(.existingCall(ExistingCall(id: .existing(1), outgoing: true, number: "+3220000001", status: .alerting)))
        #expect(h.state.call?.id == .existing(1))
        #expect(effects.contains(.hangUp(attempt)))
        #expect(!effects.contains(.hangUp(.existing(1))))
        // The refusal of the superseded attempt arrives late and changes nothing.
        h.send(.call(attempt, .ended(.dialFailed(.notReady))))
        #expect(h.state.call?.id == .existing(1))
        #expect(h.effects.isEmpty)
        h.send(.call(.existing(1), .connected))
        #expect(h.state.activeAlarm?.delivered == true)
    }

    @Test func secondCentreCallIsEndedWhenOneIsAlreadyAdopted() throws {
        var h = try resumedAlarm()
        h.send(.call(try #require(h.currentCall), .ended(.dialFailed(.notReady))))
        h.send(.existingCall(ExistingCall(id: .existing(1), outgoing: true, number: "+3220000001", status: .active)))
        let second = h.send(.existingCall(ExistingCall(id: .existing(2), outgoing: true, number: "+3220000002", status: .alerting)))
        #expect(second.contains(.hangUp(.existing(2))))
        #expect(h.state.call?.id == .existing(1))
    }

    @Test func emergencyCallKeptByTheModemIsAdoptedAsEmergency() throws {
        var h = try resumedAlarm()
        h.send(.call(try #require(h.currentCall), .ended(.dialFailed(.notReady))))
        h.send(.existingCall(ExistingCall(id: .existing(1), outgoing: true, number: "112", status: .active)))
        #expect(h.state.call?.emergency == true)
        #expect(h.state.activeAlarm?.centreReached == false)
        // The operator hanging up says nothing about the centre: the centre is called again.
        h.send(.network(Self.home))
        h.send(.call(.existing(1), .ended(.normalClearing)))
        #expect(!h.effects.milestones.contains(.centreHungUp))
        #expect(!h.advance(.seconds(5)).dialled.isEmpty)
    }
}

@Suite struct ForgedCallerTests {
    static let home = NetworkStatus(registration: .home, signal: 20)

    @Test func forgedCentreCallbackInTheRedialGapIsNotAnsweredBeforeTheCentreWasReached() throws {
        var h = Harness()
        h.send(.network(Self.home))
        h.trigger()
        // The centre is busy: the device waits out a backoff before the next attempt.
        h.send(.call(try #require(h.currentCall), .ended(.busy)))
        #expect(h.state.activeAlarm?.waitingToRedial == true)
        // The aggressor calls showing the centre's number.
        let effects = h.send(.incomingCall(.incoming(1), caller: "+3220000001"))
        #expect(effects.contains(.reject(.incoming(1))))
        #expect(!effects.contains(.answer(.incoming(1))))
        #expect(!effects.contains(.cancelTimer(.redial)))
        // The redial still happens on time.
        #expect(h.advance(.seconds(2)).dialled == ["+3220000002"])
    }

    @Test func answeredCallbackEndingNormallyLeadsBackToDialling() throws {
        var h = Harness()
        h.send(.network(Self.home))
        h.trigger()
        let own = try #require(h.currentCall)
        h.send(.call(own, .connected))
        // A connection the device placed was dropped; while it redials, a centre number calls and is answered.
        h.send(.call(own, .ended(.networkFailure)))
        let redial = try #require(h.currentCall)
        h.send(.call(redial, .ended(.busy)))
        h.send(.incomingCall(.incoming(1), caller: "+3220000001"))
        #expect(h.effects.contains(.answer(.incoming(1))))
        h.send(.call(.incoming(1), .connected))
        // "Normal clearing" by a caller we cannot authenticate is not the centre hanging up.
        h.send(.call(.incoming(1), .ended(.normalClearing)))
        #expect(!h.effects.milestones.contains(.centreHungUp))
        #expect(h.state.activeAlarm?.centreHungUp == false)
        #expect(h.effects.dialled.count == 1)
    }

    @Test func answeredCallbackAfterTheCentreHungUpRestartsTheDialCycleWhenItEnds() throws {
        var h = Harness()
        h.send(.network(Self.home))
        h.trigger()
        let own = try #require(h.currentCall)
        h.send(.call(own, .connected))
        h.send(.call(own, .ended(.normalClearing)))
        #expect(h.state.activeAlarm?.centreHungUp == true)
        h.send(.incomingCall(.incoming(1), caller: "+3220000002"))
        h.send(.call(.incoming(1), .connected))
        h.send(.call(.incoming(1), .ended(.normalClearing)))
        #expect(h.effects.dialled == ["+3220000001"])
    }

    @Test func noMicrophoneOutsideAnAlarmWithoutAnAuthenticatedRequest() throws {
        var h = Harness()
        h.send(.network(Self.home))
        // Idle, then right after an alarm: a centre number calling gets nothing.
        for (index, phase) in ["idle", "after"].enumerated() {
            if phase == "after" {
                h.trigger()
                h.send(.call(try #require(h.currentCall), .connected))
                h.send(.centre(.endAlarm))
                h.send(.call(try #require(h.currentCall), .ended(.normalClearing)))
                _ = h.advance(.seconds(5))
            }
            let effects = h.send(.incomingCall(.incoming(index + 1), caller: "+3220000001"))
            #expect(effects.contains(.reject(.incoming(index + 1))), "\(phase)")
            #expect(!effects.contains(.answer(.incoming(index + 1))), "\(phase)")
            #expect(!effects.contains(.captureAudio(true)), "\(phase)")
            #expect(h.state.call == nil, "\(phase)")
        }
        // The authenticated CALL command makes the device dial out: the network routes that call to the centre.
        let asked = h.send(.centre(CentreCommand(.callBack, argument: 2)))
        #expect(asked.dialled == ["+3220000002"])
    }
}

/// A firmware update in the middle of an alarm: the journal the old firmware wrote lacks `centreReached`; the new
/// one resumes the alarm from it (the field takes its default) instead of failing to decode it and losing the alarm.
@Suite struct JournalCompatibilityTests {
    @Test func anAlarmJournalledBeforeCentreReachedExistedStillResumes() throws {
        var h = Harness()
        h.trigger()
        let saved = h.state.durable
        let encoded = try JSONEncoder().encode(saved)
        var text = String(decoding: encoded, as: UTF8.self)
        #expect(text.contains("\"centreReached\":false"), "the field is journalled today: \(text.prefix(200))")
        text = text.replacing("\"centreReached\":false,", with: "").replacing(",\"centreReached\":false", with: "")
        #expect(!text.contains("centreReached"))
        let old = try JSONDecoder().decode(DurableState.self, from: Data(text.utf8))
        var after = Harness()
        after.send(.resumed(old))
        #expect(after.state.activeAlarm?.number == 1)
        #expect(after.state.activeAlarm?.centreReached == false)
    }
}
