import AlarmCore
import HAL

extension ModemEmulator {
    static let causes: [String: (Int, String)] = [
        "normal": (16, "Normal call clearing"),
        "busy": (17, "User busy"),
        "no-answer": (19, "User alerting, no answer"),
        "no-carrier": (41, "Temporary failure"),
        "drop": (47, "Resources unavailable, unspecified"),
        "no-service": (30, "No network service"),
    ]

    func dial(_ target: String, receivedAt: Instant) {
        let number = String(target.prefix { $0 != ";" })
        let (allowed, outcome, settings, index) = state.withLock { state -> (Bool, EmulatedCallOutcome, EmulatorSettings, Int) in
            state.dialled.append(number)
            state.dialAttempts.append(EmulatedDial(number: number, receivedAt: receivedAt))
            let s = state.settings
            let emergency = s.emergencyNumbers.contains(number)
            let allowed = s.simPresent && s.registration.isRegistered || (emergency && s.emergencyCallsPossible)
            let outcome = state.outcomes.isEmpty ? EmulatedCallOutcome.answer : state.outcomes.removeFirst()
            let index = (1...7).first { state.calls[$0] == nil } ?? 7
            if allowed {
                state.calls[index] = Call(index: index, incoming: false, state: 2, number: number)
            } else {
                state.lastCause = Self.causes["no-service"]!
                state.lastReleaseWasLocal = false
            }
            return (allowed, outcome, s, index)
        }
        guard allowed else {
            respond([], final: error("no network service", code: 30))
            return
        }
        guard settings.dialAcceptDelay > .zero else {
            acceptDial(index, outcome: outcome, settings: settings)
            return
        }
        // The call exists (and +CLCC lists it as dialing) while the network decides; ATD's OK waits for that,
        // and so does every other command on the channel.
        state.withLock { state in
            state.dialAwaitingAcceptance = index
            state.endBeforeAcceptance = nil
        }
        callChanged(index)
        occupyChannel(for: settings.dialAcceptDelay) { [self] in
            let (exists, result) = state.withLock { state -> (Bool, String) in
                state.dialAwaitingAcceptance = nil
                return (state.calls[index] != nil, state.endBeforeAcceptance ?? "NO CARRIER")
            }
            guard exists else {
                respond([], final: result)
                return
            }
            acceptDial(index, outcome: outcome, settings: settings, announced: true)
        }
    }

    /// The network has accepted the call: OK, then the scripted progress (alerting, answer or failure).
    private func acceptDial(_ index: Int, outcome: EmulatedCallOutcome, settings: EmulatorSettings, announced: Bool = false) {
        let now = clock.now()
        state.withLock { state in
            if let last = state.dialAttempts.indices.last { state.dialAttempts[last].acceptedAt = now }
        }
        respond([], final: "OK")
        if !announced { callChanged(index) }
        guard outcome != .silence else { return }
        schedule(index, after: settings.alertAfter) { [self] in
            setCallState(index, 3)
            switch outcome {
            case .answer:
                schedule(index, after: settings.answerAfter) { [self] in setCallState(index, 0) }
            case .busy:
                schedule(index, after: .milliseconds(500)) { [self] in endCall(index, cause: "busy", result: "BUSY") }
            case .noAnswer:
                schedule(index, after: .seconds(2)) { [self] in endCall(index, cause: "no-answer", result: "NO ANSWER") }
            case .noCarrier:
                schedule(index, after: .milliseconds(500)) { [self] in endCall(index, cause: "no-carrier", result: "NO CARRIER") }
            case .silence:
                break
            }
        }
    }

    func answer() {
        let index = state.withLock { state -> Int? in
            guard let call = state.calls.values.first(where: { $0.incoming && $0.state == 4 }) else { return nil }
            state.calls[call.index]?.state = 0
            state.ringTimer?.cancel()
            state.ringTimer = nil
            return call.index
        }
        guard let index else {
            respond([], final: "NO CARRIER")
            return
        }
        respond([], final: "OK")
        callChanged(index)
    }

    /// ATH / AT+CHUP (and AT+QHUP without an index) end every call — including the centre's, which is why the
    /// driver must never use them to reject a waiting call.
    func hangUpAll(by command: String, cause: Int = 16) {
        let now = clock.now()
        let ended = state.withLock { state -> [Int] in
            let indexes = state.calls.keys.sorted()
            if !indexes.isEmpty { state.hangUpAllWithCalls += 1 }
            if state.calls.count > 1 { state.callsEndedByHangUpAll += state.calls.count }
            for index in indexes {
                guard let call = state.calls.removeValue(forKey: index) else { continue }
                call.timer?.cancel()
                state.endedCalls.append(EmulatedCallEnd(call, endedBy: command, at: now))
            }
            state.ringTimer?.cancel()
            state.ringTimer = nil
            state.lastCause = Self.cause(code: cause)
            state.lastReleaseWasLocal = true
            return indexes
        }
        respond([], final: "OK")
        for index in ended {
            note("-- call \(index) ended by \(command)")
            callRemoved(index)
        }
    }

    /// AT+CHLD=1<idx> / AT+QHUP=<cause>,<idx>: ends exactly that call, whatever its state; a call that does
    /// not exist is an error (27.007 leaves the code to the vendor; 3 = operation not allowed).
    func releaseCall(_ index: Int, cause: Int = 16, by command: String) {
        let now = clock.now()
        let released = state.withLock { state -> Bool in
            guard let call = state.calls.removeValue(forKey: index) else { return false }
            call.timer?.cancel()
            if call.state == 4 || !state.calls.values.contains(where: { $0.state == 4 }) {
                state.ringTimer?.cancel()
                state.ringTimer = nil
            }
            state.endedCalls.append(EmulatedCallEnd(call, endedBy: command, at: now))
            state.lastCause = Self.cause(code: cause)
            state.lastReleaseWasLocal = true
            return true
        }
        guard released else {
            respond([], final: error("operation not allowed", code: 3))
            return
        }
        respond([], final: "OK")
        note("-- call \(index) ended by \(command)")
        callRemoved(index)
    }

    /// AT+CHLD=1: releases the active calls and accepts the waiting (or else the held) call.
    func releaseActiveAcceptOther() {
        let now = clock.now()
        let (released, accepted) = state.withLock { state -> ([Int], Int?) in
            let active = state.calls.values.filter { $0.state == 0 }.map(\.index).sorted()
            for index in active {
                guard let call = state.calls.removeValue(forKey: index) else { continue }
                call.timer?.cancel()
                state.endedCalls.append(EmulatedCallEnd(call, endedBy: "AT+CHLD=1", at: now))
            }
            let other = state.calls.values.first(where: { $0.state == 5 }) ?? state.calls.values.first(where: { $0.state == 1 })
            if let other { state.calls[other.index]?.state = 0 }
            if !active.isEmpty {
                state.lastCause = Self.causes["normal"]!
                state.lastReleaseWasLocal = true
            }
            return (active, other?.index)
        }
        respond([], final: "OK")
        for index in released {
            note("-- call \(index) ended by AT+CHLD=1")
            callRemoved(index)
        }
        if let accepted { callChanged(accepted) }
    }

    /// AT+CHLD=2: puts the active calls on hold and accepts the waiting (or else the held) call.
    func holdActiveAcceptOther() {
        let changed = state.withLock { state -> [Int] in
            let active = state.calls.values.filter { $0.state == 0 }.map(\.index)
            let other = state.calls.values.first { $0.state == 5 || $0.state == 4 }?.index
                ?? state.calls.values.first { $0.state == 1 }?.index
            for index in active { state.calls[index]?.state = 1 }
            if let other { state.calls[other]?.state = 0 }
            return active + (other.map { [$0] } ?? [])
        }
        respond([], final: "OK")
        for index in changed { callChanged(index) }
    }

    /// AT+CHLD=0: releases held and waiting calls, never the active one.
    func releaseWaiting() {
        let now = clock.now()
        let released = state.withLock { state -> [Int] in
            let indexes = state.calls.values.filter { $0.state == 1 || $0.state == 5 || ($0.state == 4 && state.calls.count > 1) }.map(\.index)
            for index in indexes {
                guard let call = state.calls.removeValue(forKey: index) else { continue }
                call.timer?.cancel()
                state.endedCalls.append(EmulatedCallEnd(call, endedBy: "AT+CHLD=0", at: now))
            }
            return indexes
        }
        respond([], final: "OK")
        for index in released {
            note("-- call \(index) ended by AT+CHLD=0")
            callRemoved(index)
        }
    }

    /// The 24.008 text for a cause a command gave (AT+QHUP), as +CEER reports it afterwards.
    static func cause(code: Int) -> (code: Int, text: String) {
        switch code {
        case 1: (1, "Unassigned (unallocated) number")
        case 16: (16, "Normal call clearing")
        case 17: (17, "User busy")
        case 18: (18, "No user responding")
        case 19: (19, "User alerting, no answer")
        case 21: (21, "Call rejected")
        case 27: (27, "Destination out of order")
        case 31: (31, "Normal, unspecified")
        default: (code, "Cause \(code)")
        }
    }

    // MARK: State changes and their URCs

    func schedule(_ index: Int, after delay: Duration, _ action: @escaping @Sendable () -> Void) {
        let timer = clock.schedule(after: delay) { [self] in
            guard state.withLock({ $0.calls[index] != nil && $0.powered }) else { return }
            action()
        }
        state.withLock { $0.calls[index]?.timer = timer }
    }

    func setCallState(_ index: Int, _ newState: Int) {
        let changed = state.withLock { state -> Bool in
            guard state.calls[index] != nil else { return false }
            state.calls[index]?.state = newState
            return true
        }
        if changed { callChanged(index) }
    }

    /// The network ends a call. While its ATD still waits for acceptance, the result is that command's final
    /// result (given when the wait ends), not a URC.
    func endCall(_ index: Int, cause: String, result: String) {
        let now = clock.now()
        let (existed, asFinalResult) = state.withLock { state -> (Bool, Bool) in
            guard let call = state.calls.removeValue(forKey: index) else { return (false, false) }
            call.timer?.cancel()
            state.lastCause = Self.causes[cause] ?? Self.causes["drop"]!
            state.lastReleaseWasLocal = false
            state.endedCalls.append(EmulatedCallEnd(call, endedBy: "network: \(cause)", at: now))
            guard state.dialAwaitingAcceptance == index else { return (true, false) }
            state.endBeforeAcceptance = result
            return (true, true)
        }
        guard existed else { return }
        note("-- call \(index) ended by the network (\(cause))")
        if !asFinalResult { send(urc: result) }
        callRemoved(index)
    }

    func callChanged(_ index: Int) {
        let line = state.withLock { state -> String? in
            guard state.clccURCs, let call = state.calls[index] else { return nil }
            return Self.clccLine(call)
        }
        if let line { send(urc: line) }
        voiceCallsChanged()
    }

    func callRemoved(_ index: Int) {
        let urcs = state.withLock { $0.clccURCs }
        // SIMCom reports a released call as state 6 when call-state URCs are on.
        if urcs { send(urc: "+CLCC: \(index),0,6,0,0") }
        voiceCallsChanged()
    }

    func callListLines() -> [String] {
        state.withLock { state in state.calls.values.sorted { $0.index < $1.index }.map(Self.clccLine) }
    }

    static func clccLine(_ call: Call) -> String {
        let type = call.number.hasPrefix("+") ? 145 : 129
        let number = call.number.isEmpty ? "\"\",128" : "\"\(call.number)\",\(type)"
        return "+CLCC: \(call.index),\(call.incoming ? 1 : 0),\(call.state),0,0,\(number)"
    }
}

/// One `ATD` as the emulator received it.
public struct EmulatedDial: Sendable, Hashable {
    public var number: String
    /// When the line's carriage return arrived (emulator clock), even if the channel was busy then.
    public var receivedAt: Instant
    /// When the network accepted the call and OK went out; nil if refused or not yet accepted.
    public var acceptedAt: Instant?
}

/// A call that has ended, and what ended it.
public struct EmulatedCallEnd: Sendable, Hashable {
    public var index: Int
    public var number: String
    public var incoming: Bool
    /// Its +CLCC <stat> when it ended (0 active, 1 held, 2 dialing, 3 alerting, 4 incoming, 5 waiting).
    public var state: Int
    /// The command that ended it (`ATH`, `AT+CHUP`, `AT+CHLD=12`, `AT+QHUP=17,2`, `AT+CHLD=0`), or
    /// `network: <cause>` for the network and the far end.
    public var endedBy: String
    public var at: Instant

    init(_ call: ModemEmulator.Call, endedBy: String, at: Instant) {
        index = call.index
        number = call.number
        incoming = call.incoming
        state = call.state
        self.endedBy = endedBy
        self.at = at
    }
}

/// A call as +CLCC would list it.
public struct EmulatedCallSnapshot: Sendable, Hashable {
    public var index: Int
    public var incoming: Bool
    public var state: Int
    public var number: String
}
