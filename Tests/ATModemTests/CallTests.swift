import AlarmCore
import ATModem
import HAL
import ModemEmulator
import Testing

@Suite struct OutgoingCallTests {
    func connectedCall(_ rig: ModemRig) throws -> CallID {
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id).contains(.connected))
        return id
    }

    @Test func answeredCallGoesThroughDialingAlertingConnected() throws {
        let rig = try ModemRig()
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        rig.settle()
        #expect(rig.emulator.dialledNumbers == ["+3292000101"])
        rig.advance(.milliseconds(400))
        #expect(rig.progress(of: id).contains(.alerting))
        rig.advance(.seconds(2))
        #expect(rig.progress(of: id) == [.dialing, .alerting, .connected])
        #expect(rig.emulator.transcript.contains("→ ATD+3292000101;"))
    }

    @Test func centreHangUpIsNormalClearingAndADropIsNot() throws {
        let rig = try ModemRig()
        try rig.start()
        let first = try connectedCall(rig)
        rig.emulator.remoteHangUp()
        #expect(rig.waitFor { rig.progress(of: first).last == .ended(.normalClearing) })

        let second = CallID.outgoing(2)
        rig.driver.dial(second, number: "+3292000101")
        rig.advance(.milliseconds(2500))
        rig.emulator.dropCalls()
        #expect(rig.waitFor { rig.progress(of: second).last == .ended(.networkFailure) })
        #expect(rig.emulator.transcript.contains("→ AT+CEER"))
    }

    @Test(arguments: [(EmulatedCallOutcome.busy, CallEndReason.busy), (.noAnswer, .noAnswer), (.noCarrier, .networkFailure)])
    func unansweredOutcomes(outcome: EmulatedCallOutcome, reason: CallEndReason) throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.queueOutcomes([outcome])
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        rig.advance(.seconds(3))
        #expect(rig.waitFor { rig.progress(of: id).last.map { if case .ended = $0 { true } else { false } } ?? false })
        #expect(rig.progress(of: id).last == .ended(reason))
    }

    @Test func dialWithoutNetworkFailsAsNotReady() throws {
        let rig = try ModemRig { $0.registration = .searching; $0.emergencyCallsPossible = false }
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        #expect(rig.waitFor { rig.progress(of: id) == [.ended(.dialFailed(.notReady))] })
    }

    @Test func microphoneIsNeverMuted() throws {
        let rig = try ModemRig()
        try rig.start()
        let id = try connectedCall(rig)
        rig.advance(.seconds(5))
        rig.emulator.remoteHangUp()
        #expect(rig.waitFor { rig.progress(of: id).last == .ended(.normalClearing) })
        #expect(rig.emulator.microphoneMuteViolations == 0)
        #expect(!rig.emulator.transcript.contains { $0.contains("CMUT") })
    }

    @Test func simcomProfileTracksCallsFromURCsWithOnlyASlowBackupPoll() throws {
        let rig = try ModemRig(profile: .simcomSIM7600) { $0.announcesReady = false }
        try rig.start()
        #expect(rig.emulator.transcript.contains("→ AT+CLCC=1"))
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id).contains(.connected))
        // Connected from the URCs; the backup poll runs once a second (the polling profile would have sent ~25).
        let polls = rig.emulator.transcript.filter { $0 == "→ AT+CLCC" }.count
        #expect(polls <= 4)
    }
}

@Suite struct IncomingCallTests {
    @Test func incomingCallWithCallerIDIsAnnouncedOnceAndCanBeAnswered() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.ring(from: "+3292000101")
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming(_, "+3292000101") = $0 { true } else { false } } })
        rig.advance(.seconds(7))  // RING repeats
        let announcements = rig.callEvents.filter { if case .incoming = $0 { true } else { false } }
        #expect(announcements.count == 1)
        guard case .incoming(let id, _)? = announcements.first else { return }
        rig.driver.perform(.answer, on: id)
        rig.advance(.milliseconds(600))
        #expect(rig.waitFor { rig.progress(of: id).contains(.connected) })
        #expect(rig.emulator.activeCallCount == 1)
    }

    @Test func withheldCallerHasNoNumberAndIsRejected() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.ring(from: nil)
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming(_, nil) = $0 { true } else { false } } })
        guard case .incoming(let id, _)? = rig.callEvents.first else { return }
        rig.driver.perform(.reject, on: id)
        rig.advance(.milliseconds(300))
        // Per call, even with no other call up: ATH would end whatever else the modem has by then.
        #expect(rig.emulator.transcript.contains("→ AT+CHLD=11"))
        #expect(!rig.emulator.transcript.contains("→ ATH"))
        #expect(rig.waitFor { rig.progress(of: id).last.map { if case .ended = $0 { true } else { false } } ?? false })
    }

    @Test func aggressorCallingAgainAndAgainNeverCutsTheCentreLine() throws {
        // A network that does not let the device switch call waiting off: every caller knocks.
        let rig = try ModemRig { $0.callWaitingControllable = false }
        try rig.start()
        let centre = CallID.outgoing(1)
        rig.driver.dial(centre, number: "+3292000101")
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: centre).contains(.connected))
        for attempt in 1...5 {
            rig.emulator.ring(from: "+32470666666")
            #expect(rig.calls.waitUntil { events in
                events.filter { if case .incoming = $0 { true } else { false } }.count == attempt
            })
            guard case .incoming(let id, _)? = rig.callEvents.last(where: { if case .incoming = $0 { true } else { false } }) else { return }
            rig.driver.perform(.reject, on: id)
            rig.advance(.milliseconds(300))
        }
        // Each waiting caller is released by its own index (the centre's call is index 1).
        #expect(rig.emulator.transcript.filter { $0 == "→ AT+CHLD=12" }.count == 5)
        #expect(!rig.emulator.transcript.contains("→ ATH"))
        #expect(rig.emulator.callsEndedByHangUpAll == 0)
        #expect(rig.emulator.activeCallCount == 1)
        #expect(!rig.progress(of: centre).contains { if case .ended = $0 { true } else { false } })
    }

    @Test func callWaitingIsSwitchedOffForGoodOnceReadyNotAtTheTrigger() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.settle()
        #expect(!rig.emulator.callWaitingEnabled)
        let ready = try #require(rig.emulator.transcript.firstIndex(of: "→ AT+CCLK?"))
        let ccwa = try #require(rig.emulator.transcript.firstIndex(of: "→ AT+CCWA=1,0"))
        #expect(ccwa > ready, "call waiting is configured after the start-up, not in it")
        let sentBefore = rig.emulator.transcript.filter { $0.hasPrefix("→ AT+CCWA") }.count
        // An alarm (and its end) sends no supplementary-service request at all.
        rig.driver.setAlarmMode(true)
        let centre = CallID.outgoing(1)
        rig.driver.dial(centre, number: "+3292000101")
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: centre).contains(.connected))
        rig.emulator.ring(from: "+32470666666")
        #expect(rig.emulator.callersTurnedAwayByNetwork == 1)
        rig.driver.setAlarmMode(false)
        rig.settle()
        #expect(rig.emulator.transcript.filter { $0.hasPrefix("→ AT+CCWA") }.count == sentBefore)
        #expect(!rig.emulator.callWaitingEnabled)
    }

    @Test func callWaitingRequestWaitsForTheEndOfAnAlarmRaisedBeforeTheModemWasReady() throws {
        let rig = try ModemRig()
        rig.driver.setAlarmMode(true)
        try rig.start()
        rig.settle()
        #expect(rig.driver.phase == .ready)
        #expect(!rig.emulator.transcript.contains { $0.hasPrefix("→ AT+CCWA") })
        rig.driver.setAlarmMode(false)
        rig.settle()
        #expect(rig.emulator.transcript.contains("→ AT+CCWA=1,0"))
        #expect(!rig.emulator.callWaitingEnabled)
    }
}
