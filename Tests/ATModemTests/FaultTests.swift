import ModemTestSupport
import AlarmCore
import AlarmCodecs
import ATModem
import HAL
import ModemEmulator
import Testing

/// Submits a command straight to the driver's engine and collects its outcome.
private func submit(_ rig: ModemRig, _ command: ATCommand) -> Collector<ATOutcome> {
    let outcomes = Collector<ATOutcome>(activity: rig.activity)
    rig.driver.engine.submit(command) { outcomes.append($0) }
    return outcomes
}

private func isEnded(_ progress: CallProgress?) -> Bool {
    if case .ended? = progress { return true }
    return false
}

private let centre = "+3292000101"
private let servingCell = CellInfo(mcc: 206, mnc: 1, areaCode: 0x3E9, cellID: 0x1A2B3C, accessTechnology: "LTE")

// MARK: - Registration changes

@Suite struct RegistrationChangeTests {
    @Test func roamingIsReportedAndStillCountsAsRegistered() throws {
        let rig = try ModemRig()
        try rig.start()
        let before = rig.network.all.count
        rig.emulator.setRegistration(.roaming)
        #expect(rig.network.waitUntil { $0.count > before && $0.last?.registration == .roaming })
        rig.settle()
        let status = try #require(rig.lastNetwork)
        #expect(status.registration == .roaming)
        #expect(status.registration.isRegistered)
        #expect(status.emergencyCallsPossible)
        #expect(status.cell == servingCell)
        #expect(rig.driver.phase == .ready)

        // Roaming is a registration: an ordinary call still goes through.
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id) == [.dialing, .alerting, .connected])
    }

    @Test func searchingIsNotRegisteredButAllowsEmergencyCallsWhileACellIsHeard() throws {
        let rig = try ModemRig()
        try rig.start()
        let before = rig.network.all.count
        rig.emulator.setRegistration(.searching)
        #expect(rig.network.waitUntil { $0.count > before && $0.last?.registration == .searching })
        rig.settle()
        let status = try #require(rig.lastNetwork)
        #expect(status.registration == .searching)
        #expect(!status.registration.isRegistered)
        #expect(status.signal == 21)
        #expect(status.emergencyCallsPossible)
        // +CREG: 2 carries the cell the modem is camped on while it searches.
        #expect(status.cell == servingCell)

        // The signal goes: at the next signal poll the modem hears nothing, and emergency calls are not possible.
        rig.emulator.setSignal(0)
        rig.advance(.seconds(31))
        #expect(rig.network.waitUntil { $0.last?.signal == 0 })
        let silent = try #require(rig.lastNetwork)
        #expect(silent.registration == .searching)
        #expect(!silent.emergencyCallsPossible)
    }

    @Test func deniedRegistrationIsReportedAndOrdinaryCallsFailAsNotReady() throws {
        let rig = try ModemRig()
        try rig.start()
        let before = rig.network.all.count
        rig.emulator.setRegistration(.denied, emergencyCallsPossible: false)
        #expect(rig.network.waitUntil { $0.count > before && $0.last?.registration == .denied })
        rig.settle()
        let status = try #require(rig.lastNetwork)
        #expect(status.registration == .denied)
        #expect(!status.registration.isRegistered)
        #expect(status.cell == nil)  // a denied modem reports no serving cell

        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        #expect(rig.waitFor { isEnded(rig.progress(of: id).last) })
        #expect(rig.progress(of: id) == [.ended(.dialFailed(.notReady))])
    }

    @Test func backToHomeAfterLosingTheNetwork() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setRegistration(.searching)
        #expect(rig.network.waitUntil { $0.last?.registration == .searching })
        rig.emulator.setRegistration(.denied)
        #expect(rig.network.waitUntil { $0.last?.registration == .denied })
        let before = rig.network.all.count
        rig.emulator.setRegistration(.home)
        #expect(rig.network.waitUntil { $0.count > before && $0.last?.registration == .home })
        rig.settle()
        let status = try #require(rig.lastNetwork)
        #expect(status.registration == .home)
        #expect(status.emergencyCallsPossible)
        #expect(status.cell == servingCell)
        // The driver heard it from the URCs (the emulator's +CREG/+CEREG with cell info), not from polling.
        #expect(rig.emulator.transcript.contains("← +CREG: 1,\"03E9\",\"001A2B3C\",7 (URC)"))

        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id).contains(.connected))
    }
}

// MARK: - Garbage on the line

@Suite struct GarbageTests {
    /// Deterministic line noise: control bytes (CR and LF included, so the noise is cut into many "lines"),
    /// XON/XOFF, NUL, DEL and bytes ≥ 0x80 (invalid UTF-8 most of the time).
    static func noise(_ count: Int, seed: UInt64 = 0x5EED) -> [UInt8] {
        var x = seed
        return (0..<count).map { _ in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let byte = UInt8(truncatingIfNeeded: x >> 33)
            // Keep the noise from spelling printable ASCII lines by chance: push 0x20…0x7E up into 0x80….
            return (0x20...0x7E).contains(byte) ? byte | 0x80 : byte
        }
    }

    @Test func garbageBetweenCommandsDoesNotLoseTheNextResponse() throws {
        let rig = try ModemRig()
        try rig.start()
        let garbageBefore = rig.driver.engine.garbageBytes
        rig.emulator.injectGarbage([0x00, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0xFF])
        rig.emulator.injectGarbage(Self.noise(3000))
        rig.emulator.injectGarbage(Array("+CRE".utf8))  // half a URC; the CRLF of the next response ends it
        rig.settle()

        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id) == [.dialing, .alerting, .connected])
        #expect(rig.driver.engine.garbageBytes > garbageBefore)
        #expect(rig.driver.phase == .ready)
    }

    @Test func halfLineThenCRLFThenRingStillAnnouncesTheCaller() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.injectGarbage([0xFF, 0x00, 0xFF] + Array("+CLIP: \"+324".utf8))
        rig.emulator.injectGarbage([0x0D, 0x0A])
        rig.emulator.injectGarbage([0x00, 0xFF, 0x00, 0xFF] + Array("RIN".utf8))  // no terminator at all
        rig.emulator.ring(from: "+32470123456")
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming(_, "+32470123456") = $0 { true } else { false } } })
        let announcements = rig.callEvents.filter { if case .incoming = $0 { true } else { false } }
        #expect(announcements.count == 1)
        guard case .incoming(let id, _)? = announcements.first else { return }
        rig.driver.perform(.answer, on: id)
        rig.advance(.milliseconds(600))
        #expect(rig.waitFor { rig.progress(of: id).contains(.connected) })
    }

    /// Noise cut a caller-ID URC short and a CRLF followed: the stub must not pass for a call from "+3247",
    /// and the real RING/+CLIP that follows must be announced with the whole number, once.
    @Test func truncatedCallerIDFollowedByCRLFIsNotACall() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.injectGarbage(Array("\r\n+CLIP: \"+3247".utf8))
        rig.emulator.injectGarbage([0x0D, 0x0A])
        rig.advance(.seconds(2))
        #expect(rig.callEvents.isEmpty)
        rig.emulator.ring(from: "+32470123456")
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming = $0 { true } else { false } } })
        rig.advance(.seconds(1))
        let announcements = rig.callEvents.filter { if case .incoming = $0 { true } else { false } }
        #expect(announcements.count == 1)
        guard case .incoming(_, let caller)? = announcements.first else { return }
        #expect(caller == "+32470123456")
    }

    @Test func garbageWhileACommandWaitsForItsAnswerDoesNotLoseTheAnswer() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setResponseDelay(.seconds(1))
        let outcome = submit(rig, ATCommand("AT+CSQ", expecting: ["+CSQ:"]))
        rig.settle()
        rig.emulator.injectGarbage([0x00, 0xFF, 0x00, 0xFF])
        rig.emulator.injectGarbage(Self.noise(3000, seed: 42))
        rig.emulator.injectGarbage(Array("+CS".utf8))
        rig.settle()
        #expect(outcome.all.isEmpty)
        rig.advance(.seconds(1))
        #expect(outcome.waitUntil { !$0.isEmpty })
        #expect(outcome.all == [.completed(.ok, lines: ["+CSQ: 21,99"])])
        #expect(rig.driver.engine.consecutiveTimeouts == 0)
    }

    @Test func garbageDuringACallDoesNotHideTheHangUp() throws {
        let rig = try ModemRig()
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id).contains(.connected))
        rig.emulator.injectGarbage(Self.noise(3000, seed: 7) + Array("NO CARR".utf8))
        rig.emulator.remoteHangUp()
        #expect(rig.waitFor { rig.progress(of: id).last == .ended(.normalClearing) })
        rig.advance(.seconds(1))
        #expect(rig.progress(of: id) == [.dialing, .alerting, .connected, .ended(.normalClearing)])
    }
}

// MARK: - URCs inside responses

@Suite struct URCInResponseTests {
    @Test func ringInsideAResponseIsAnnouncedAndTheCommandKeepsItsLines() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.injectURCInNextResponse("RING")
        let outcome = submit(rig, ATCommand("AT+CSQ", expecting: ["+CSQ:"]))
        #expect(outcome.waitUntil { !$0.isEmpty })
        #expect(outcome.all == [.completed(.ok, lines: ["+CSQ: 21,99"])])
        #expect(rig.emulator.transcript.contains("← RING (URC inside the response)"))
        // RING without +CLIP: after a second the caller counts as withheld.
        rig.advance(.milliseconds(1100))
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming(_, nil) = $0 { true } else { false } } })
    }

    @Test func registrationURCBeforeTheCallListPollsOKIsRoutedAndThePollKeepsItsLines() throws {
        let rig = try ModemRig()
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id).contains(.connected))

        rig.emulator.injectURCInNextResponse("+CREG: 5,\"03E9\",\"001A2B3C\",7")
        rig.advance(.milliseconds(600))  // the next +CLCC poll (every 500 ms while a call is up)
        #expect(rig.emulator.transcript.contains("← +CREG: 5,\"03E9\",\"001A2B3C\",7 (URC inside the response)"))
        #expect(rig.network.waitUntil { $0.last?.registration == .roaming })
        #expect(rig.lastNetwork?.cell == servingCell)
        // Had the poll lost its +CLCC line, the driver would have taken the call for ended.
        rig.advance(.seconds(2))
        #expect(rig.progress(of: id) == [.dialing, .alerting, .connected])
        rig.emulator.remoteHangUp()
        #expect(rig.waitFor { rig.progress(of: id).last == .ended(.normalClearing) })
    }

    @Test func clipInsideACallListResponseDuringACallIsAWaitingCallNotAnEnd() throws {
        let rig = try ModemRig()
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        rig.advance(.milliseconds(2500))
        rig.emulator.injectURCInNextResponse("+CCWA: \"+32470666666\",145,1")
        rig.advance(.milliseconds(600))
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming(_, "+32470666666") = $0 { true } else { false } } })
        #expect(!rig.progress(of: id).contains { isEnded($0) })
    }
}

// MARK: - Hang and recovery

@Suite struct RecoveryTests {
    @Test func hungModemDuringACallIsReportedDownReinitialisedPowerCycledAndTheCallCanBePlacedAgain() throws {
        let rig = try ModemRig()
        try rig.start()
        let first = CallID.outgoing(1)
        rig.driver.dial(first, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: first).contains(.connected))
        let eventsBefore = rig.network.all.count

        rig.emulator.hang()
        // +CLCC polls time out one after the other (5 s each); the third in a row means the modem is hung.
        var waited = Duration.zero
        while rig.driver.phase == .ready, waited < .seconds(30) {
            rig.advance(.milliseconds(500))
            waited += .milliseconds(500)
        }
        #expect(rig.driver.phase == .recovering)
        #expect(waited >= .seconds(15))  // three timeouts of 5 s, not one
        // (a) the modem is reported down and the call as dropped by the network.
        #expect(rig.network.all.dropFirst(eventsBefore).contains { $0.registration == .unknown })
        #expect(rig.waitFor { rig.progress(of: first).last == .ended(.networkFailure) })
        #expect(!rig.emulator.transcript.contains("-- power off"))

        // (b) first a re-initialisation: the driver keeps probing with AT before it touches the power line.
        let (writtenBefore, _) = rig.port.byteCounts
        rig.advance(.seconds(2))
        let (writtenAfter, _) = rig.port.byteCounts
        #expect(writtenAfter - writtenBefore >= 2 * "AT\r".utf8.count)
        #expect(!rig.emulator.transcript.contains("-- power off"))

        // (c) the re-initialisation gets no answer either: power-cycle through the line; the modem boots and says RDY.
        rig.advance(.seconds(5))
        let transcript = rig.emulator.transcript
        let off = try #require(transcript.firstIndex(of: "-- power off"))
        let on = try #require(transcript.firstIndex(of: "-- power on"))
        #expect(off < on)
        rig.advance(.seconds(3))
        // (d) ready again, registered at home.
        #expect(rig.waitFor { rig.driver.phase == .ready })
        #expect(rig.network.waitUntil { $0.last?.registration == .home })
        let after = Array(rig.emulator.transcript.drop { $0 != "-- power on" })
        let rdy = try #require(after.firstIndex(of: "← RDY (URC)"))
        for command in ["→ ATE0", "→ AT+CLIP=1", "→ AT+CREG=2", "→ AT+CEREG=2", "→ AT+CMGF=0"] {
            let index = try #require(after.firstIndex(of: command), "\(command) not re-sent after the power cycle")
            #expect(index > rdy)
        }
        #expect(rig.lastNetwork?.cell == servingCell)

        // The core redials: the call goes through again.
        let second = CallID.outgoing(2)
        rig.driver.dial(second, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: second) == [.dialing, .alerting, .connected])
        #expect(rig.emulator.dialledNumbers == [centre, centre])
        #expect(rig.driver.engine.consecutiveTimeouts == 0)
    }

    @Test func hungIdleModemIsFoundByTheSignalPollAndRecovered() throws {
        var settings = ATModemSettings()
        settings.hungAfterTimeouts = 2
        settings.signalPollInterval = .seconds(10)
        let rig = try ModemRig(driverSettings: settings)
        try rig.start()
        rig.emulator.hang()
        rig.advance(.seconds(10))  // first signal poll goes out…
        rig.advance(.seconds(5))   // …and times out
        #expect(rig.driver.engine.consecutiveTimeouts == 1)
        #expect(rig.driver.phase == .ready)  // one unanswered poll is not a hung modem
        rig.advance(.seconds(15))  // the second poll times out too
        #expect(rig.driver.phase == .recovering)
        #expect(rig.lastNetwork?.registration == .unknown)
        rig.advance(.seconds(12))
        #expect(rig.emulator.transcript.contains("-- power off"))
        #expect(rig.waitFor { rig.driver.phase == .ready })
        #expect(rig.network.waitUntil { $0.last?.registration == .home })
    }

    @Test func modemRestartingDuringACallEndsTheCallAsANetworkFailureAndComesBack() throws {
        let rig = try ModemRig()
        try rig.start()
        let first = CallID.outgoing(1)
        rig.driver.dial(first, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: first).contains(.connected))
        rig.emulator.powerCycle()
        rig.advance(.milliseconds(300))
        #expect(rig.waitFor { rig.progress(of: first).last == .ended(.networkFailure) })
        rig.advance(.seconds(1))
        #expect(rig.waitFor { rig.driver.phase == .ready })
        let second = CallID.outgoing(2)
        rig.driver.dial(second, number: centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: second) == [.dialing, .alerting, .connected])
    }

    @Test func modemRestartingOnItsOwnIsReinitialised() throws {
        let rig = try ModemRig()
        try rig.start()
        #expect(rig.emulator.transcript.filter { $0 == "→ ATE0" }.count == 1)
        let eventsBefore = rig.network.all.count
        rig.emulator.powerCycle()
        rig.advance(.milliseconds(300))  // boot time, then RDY
        rig.advance(.seconds(1))
        #expect(rig.waitFor { rig.driver.phase == .ready })
        let transcript = rig.emulator.transcript
        let on = try #require(transcript.lastIndex(of: "-- power on"))
        let after = Array(transcript[on...])
        let rdy = try #require(after.firstIndex(of: "← RDY (URC)"))
        for command in ["→ ATE0", "→ AT+CMEE=2", "→ AT+CLCC", "→ AT&D0", "→ AT+CLIP=1", "→ AT+CCWA=1,0", "→ AT+CREG=2", "→ AT+CEREG=2",
                        "→ AT+QURCCFG=\"urcport\",\"usbat\""] {
            let index = try #require(after.firstIndex(of: command), "\(command) not re-sent after the restart")
            #expect(index > rdy)
        }
        // The restart was reported (down, then up again) and the modem answers caller ID again.
        let events = Array(rig.network.all.dropFirst(eventsBefore))
        #expect(events.contains { $0.registration == .unknown })
        #expect(events.last?.registration == .home)
        rig.emulator.ring(from: "+32470123456")
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming(_, "+32470123456") = $0 { true } else { false } } })
    }
}

// MARK: - Slow modem

@Suite struct ResponseDelayTests {
    @Test func slowAnswersStillCompleteOnceTheirTimeComes() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setResponseDelay(.seconds(2))
        let outcome = submit(rig, ATCommand("AT+CSQ", expecting: ["+CSQ:"]))
        rig.advance(.milliseconds(1900))
        #expect(outcome.all.isEmpty)
        rig.advance(.milliseconds(200))
        #expect(outcome.waitUntil { !$0.isEmpty })
        #expect(outcome.all == [.completed(.ok, lines: ["+CSQ: 21,99"])])
        #expect(rig.driver.engine.consecutiveTimeouts == 0)

        // A whole call with every answer 2 s late still gets connected.
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: centre)
        rig.advance(.seconds(10))
        #expect(rig.progress(of: id).contains(.connected))
        #expect(rig.driver.phase == .ready)
        #expect(rig.driver.engine.consecutiveTimeouts == 0)
    }

    @Test func answerLaterThanTheTimeoutTimesTheCommandOut() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setResponseDelay(.seconds(7))
        let outcome = submit(rig, ATCommand("AT+CSQ", expecting: ["+CSQ:"]))
        rig.advance(.milliseconds(4900))
        #expect(outcome.all.isEmpty)
        rig.advance(.milliseconds(200))
        #expect(outcome.waitUntil { !$0.isEmpty })
        #expect(outcome.all == [.timedOut])
        #expect(rig.driver.engine.consecutiveTimeouts == 1)
        #expect(rig.driver.phase == .ready)  // one timeout is not a hung modem

        // The late answer, when it comes, completes nothing; an answer in time resets the count.
        rig.advance(.seconds(2))
        rig.emulator.setResponseDelay(.zero)
        let next = submit(rig, ATCommand("AT+CSQ", expecting: ["+CSQ:"]))
        #expect(next.waitUntil { !$0.isEmpty })
        #expect(next.all == [.completed(.ok, lines: ["+CSQ: 21,99"])])
        #expect(rig.driver.engine.consecutiveTimeouts == 0)
    }
}

@Suite struct LateAnswerTests {
    /// A modem that answers after the timeout must not complete the next command with that answer:
    /// a +CLCC poll completed by a stray OK would report the centre call as ended.
    @Test func lateAnswerToATimedOutCommandIsNotTakenForTheNextOne() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setResponseDelay(.seconds(6))
        let first = Collector<ATOutcome>()
        rig.driver.engine.submit(ATCommand("AT+CSQ", expecting: ["+CSQ:"])) { first.append($0) }
        rig.advance(.seconds(5))
        #expect(first.all == [.timedOut])
        let second = Collector<ATOutcome>()
        rig.driver.engine.submit(ATCommand("AT+CGSN", bareLines: true)) { second.append($0) }
        rig.advance(.seconds(1))   // the late "+CSQ … OK" of the first command arrives now
        rig.emulator.setResponseDelay(.zero)
        rig.advance(.seconds(12))
        #expect(second.waitUntil { !$0.isEmpty })
        // Either the IMEI or a timeout — never an OK without the IMEI line.
        if case .completed(let result, let lines)? = second.all.first {
            #expect(result == .ok)
            #expect(lines == ["861234050123456"])
        }
    }
}
