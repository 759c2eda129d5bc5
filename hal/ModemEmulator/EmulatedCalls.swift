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

    func dial(_ target: String) {
        let number = String(target.prefix { $0 != ";" })
        let (allowed, outcome, settings, index) = state.withLock { state -> (Bool, EmulatedCallOutcome, EmulatorSettings, Int) in
            state.dialled.append(number)
            let s = state.settings
            let emergency = s.emergencyNumbers.contains(number)
            let allowed = s.simPresent && s.registration.isRegistered || (emergency && s.emergencyCallsPossible)
            let outcome = state.outcomes.isEmpty ? EmulatedCallOutcome.answer : state.outcomes.removeFirst()
            let index = (1...7).first { state.calls[$0] == nil } ?? 7
            if allowed {
                state.calls[index] = Call(index: index, incoming: false, state: 2, number: number)
            } else {
                state.lastCause = Self.causes["no-service"]!
            }
            return (allowed, outcome, s, index)
        }
        guard allowed else {
            respond([], final: error("no network service", code: 30))
            return
        }
        respond([], final: "OK")
        callChanged(index)
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

    /// ATH / AT+CHUP end every call — including the centre's, which is why the driver must never use them
    /// to reject a waiting call.
    func hangUpAll() {
        let ended = state.withLock { state -> [Int] in
            let indexes = Array(state.calls.keys)
            if state.calls.count > 1 { state.callsEndedByHangUpAll += state.calls.count }
            for index in indexes { state.calls[index]?.timer?.cancel() }
            state.calls.removeAll()
            state.ringTimer?.cancel()
            state.ringTimer = nil
            state.lastCause = Self.causes["normal"]!
            return indexes
        }
        respond([], final: "OK")
        for index in ended { callRemoved(index) }
    }

    /// AT+CHLD=0: releases held and waiting calls, never the active one.
    func releaseWaiting() {
        let released = state.withLock { state -> [Int] in
            let indexes = state.calls.values.filter { $0.state == 1 || $0.state == 5 || ($0.state == 4 && state.calls.count > 1) }.map(\.index)
            for index in indexes { state.calls.removeValue(forKey: index)?.timer?.cancel() }
            return indexes
        }
        respond([], final: "OK")
        for index in released { callRemoved(index) }
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

    func endCall(_ index: Int, cause: String, result: String) {
        let existed = state.withLock { state -> Bool in
            guard let call = state.calls.removeValue(forKey: index) else { return false }
            call.timer?.cancel()
            state.lastCause = Self.causes[cause] ?? Self.causes["drop"]!
            return true
        }
        guard existed else { return }
        send(urc: result)
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
