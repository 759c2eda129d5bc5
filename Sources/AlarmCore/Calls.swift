extension Transition {
    /// Places the next attempt of the dial cycle, unless a call exists or the centre is done with us.
    mutating func dialNext() {
        guard var alarm, state.call == nil, !alarm.centreHungUp else { return }
        let emergency = emergencyFallbackApplies || settings.centreNumbers.isEmpty
        let number = emergency
            ? settings.emergencyNumber
            : settings.centreNumbers[alarm.nextNumberIndex % settings.centreNumbers.count]
        let id = CallID.outgoing(state.nextOutgoingCall)
        state.nextOutgoingCall += 1
        state.call = CallState(id: id, number: number, connected: false, emergency: emergency,
                               placedUnregistered: !state.network.status.registration.isRegistered)
        state.counters.callsPlaced += 1
        alarm.waitingToRedial = false
        let firstEmergencyCall = emergency && !alarm.emergencyFallbackReported
        if firstEmergencyCall { alarm.emergencyFallbackReported = true }
        self.alarm = alarm
        effects.append(.cancelTimer(.redial))
        effects.append(.dial(id, number: number))
        effects.append(.startTimer(.callSetup, after: settings.callSetupTimeout))
        if firstEmergencyCall {
            effects.append(.announce(.emergencyFallback(number: number)))
            queueReport(.emergencyCallPlaced)
        }
    }

    /// No registration for long enough, and the modem can still reach emergency services.
    var emergencyFallbackApplies: Bool {
        let network = state.network
        guard !network.status.registration.isRegistered, network.status.emergencyCallsPossible,
              let since = network.unregisteredSince else { return false }
        return now - since >= settings.emergencyFallbackAfter
    }

    mutating func callProgressed(_ id: CallID, _ progress: CallProgress) {
        guard var call = state.call, call.id == id else { return }  // a late event of an abandoned call
        switch progress {
        case .dialing, .alerting:
            break
        case .connected:
            guard !call.connected else { return }
            call.connected = true
            state.call = call
            state.counters.callsConnected += 1
            effects.append(.cancelTimer(.callSetup))
            guard var alarm else { return }
            alarm.waitingToRedial = false
            effects.append(.cancelTimer(.redial))
            // An answered incoming call proves nothing about the centre (caller ID can be forged): it neither
            // delivers the alarm nor resets the dial cycle.
            guard call.placedByDevice else {
                self.alarm = alarm
                return
            }
            alarm.consecutiveFailures = 0
            // The centre is listening again (it asked us to call): a later drop must be redialled.
            alarm.centreHungUp = false
            if !call.emergency { alarm.centreReached = true }
            self.alarm = alarm
            markDelivered(.call)
        case .ended(let reason):
            state.call = nil
            effects.append(.cancelTimer(.callSetup))
            guard var alarm else { return }  // outside an alarm nothing is redialled
            if alarm.inheritedCall == id {
                alarm.inheritedCall = nil
                self.alarm = alarm
                dialNext()
            } else if !call.placedByDevice {
                // A call we answered ended, whatever its cause: its caller may not have been the centre at all,
                // so it can never stand for "the centre hung up". Back to calling the centre.
                alarm.centreHungUp = false
                alarm.consecutiveFailures = 0
                self.alarm = alarm
                dialNext()
            } else if call.connected {
                if reason == .normalClearing && call.emergency {
                    // The emergency operator hung up on a silent line: that says nothing about the centre.
                    attemptFailed(call)
                } else if reason == .normalClearing {
                    alarm.centreHungUp = true
                    self.alarm = alarm
                    effects.append(.announce(.centreHungUp))
                } else {
                    // Dropped (or ended for a reason we cannot read): the centre still wants to listen.
                    dialNext()
                }
            } else {
                attemptFailed(call)
            }
        }
    }

    /// The centre asked (authenticated) to be called for a listen-in. During an alarm this is the alarm's own call
    /// (redialled if it drops); outside one it is a single attempt. Never while a call is up.
    mutating func callBack(number position: Int) {
        // Not `1...count`: a board without centre numbers would make that range trap.
        guard state.call == nil, position >= 1, position <= settings.centreNumbers.count else { return }
        if var alarm {
            alarm.nextNumberIndex = position - 1
            alarm.centreHungUp = false
            self.alarm = alarm
            dialNext()
            return
        }
        let number = settings.centreNumbers[position - 1]
        let id = CallID.outgoing(state.nextOutgoingCall)
        state.nextOutgoingCall += 1
        state.call = CallState(id: id, number: number, connected: false, emergency: false)
        state.counters.callsPlaced += 1
        effects.append(.dial(id, number: number))
        effects.append(.startTimer(.callSetup, after: settings.callSetupTimeout))
    }

    mutating func attemptFailed(_ call: CallState) {
        guard var alarm else { return }
        if call.placedUnregistered, state.network.status.registration.isRegistered {
            alarm.consecutiveFailures = 0
            self.alarm = alarm
            dialNext()
            return
        }
        alarm.consecutiveFailures += 1
        if !call.emergency, case .outgoing = call.id, !settings.centreNumbers.isEmpty {
            alarm.nextNumberIndex = (alarm.nextNumberIndex + 1) % settings.centreNumbers.count
        }
        alarm.waitingToRedial = true
        self.alarm = alarm
        effects.append(.startTimer(.redial, after: redialDelay(afterFailures: alarm.consecutiveFailures)))
    }

    /// Each number of a cycle is tried after the initial delay; every full cycle doubles it, up to the maximum.
    func redialDelay(afterFailures failures: Int) -> Duration {
        let cycle = (failures - 1) / max(settings.centreNumbers.count, 1)
        return backoff(initial: settings.redialInitialDelay, maximum: settings.redialMaxDelay, step: cycle)
    }

    mutating func callSetupTimedOut() {
        guard let call = state.call, !call.connected else { return }
        state.call = nil
        effects.append(.hangUp(call.id))
        attemptFailed(call)
    }

    mutating func redialDue() {
        guard let alarm, alarm.waitingToRedial, state.call == nil else { return }
        dialNext()
    }

    mutating func emergencyFallbackDue() {
        guard let alarm, emergencyFallbackApplies, !alarm.centreHungUp else { return }
        if let call = state.call {
            // A centre attempt placed without registration may hang until its setup timeout; the deadline wins.
            guard !call.connected, !call.emergency, case .outgoing = call.id else { return }
            state.call = nil
            effects.append(.cancelTimer(.callSetup))
            effects.append(.hangUp(call.id))
        } else if !alarm.waitingToRedial {
            return
        }
        dialNext()
    }

    mutating func networkChanged(_ status: NetworkStatus) {
        let fallbackApplied = emergencyFallbackApplies
        let wasRegistered = state.network.status.registration.isRegistered
        state.network.status = status
        if status.registration.isRegistered {
            state.network.unregisteredSince = nil
            if !wasRegistered { flushOutbox() }
            guard let alarm else { return }
            effects.append(.cancelTimer(.emergencyFallback))
            if !wasRegistered, alarm.waitingToRedial, state.call == nil {
                // Service is back: do not sit out the backoff.
                var fresh = alarm
                fresh.consecutiveFailures = 0
                self.alarm = fresh
                dialNext()
            }
        } else {
            if state.network.unregisteredSince == nil {
                state.network.unregisteredSince = now
                armEmergencyFallbackIfUnregistered()
            }
            if !fallbackApplied, emergencyFallbackApplies { emergencyFallbackDue() }
        }
    }

    mutating func armEmergencyFallbackIfUnregistered() {
        guard state.activeAlarm != nil, let since = state.network.unregisteredSince else { return }
        let elapsed = now - since
        let remaining = elapsed >= settings.emergencyFallbackAfter ? Duration.zero : settings.emergencyFallbackAfter - elapsed
        effects.append(.startTimer(.emergencyFallback, after: remaining))
    }

    mutating func incomingCall(_ id: CallID, caller: String?) {
        // Modems repeat RING/+CLIP while a call rings: the call being answered must not be rejected by its echo.
        if state.call?.id == id { return }
        if state.call != nil {
            // Never disturb the call in progress; the waiting caller gets rejected.
            rejectCall(id, caller: caller)
            return
        }
        // Caller ID is easy to forge. Outside an alarm nobody gets the microphone by calling (the centre asks for a
        // listen-in with the authenticated CALL command and the device dials out); during one, a centre number is
        // answered only once the device's own call has reached the centre in this alarm, so a forged callback
        // can never stand in for the call the device is still trying to place.
        guard let alarm, alarm.centreReached, let caller, isCentre(caller) else {
            rejectCall(id, caller: caller)
            return
        }
        state.call = CallState(id: id, number: caller, connected: false, emergency: false, placedByDevice: false)
        var waiting = alarm
        waiting.waitingToRedial = false
        self.alarm = waiting
        effects.append(.cancelTimer(.redial))
        effects.append(.answer(id))
        effects.append(.startTimer(.callSetup, after: settings.callSetupTimeout))
        effects.append(.announce(.callbackAnswered(caller: caller)))
    }

    /// The modem had this call when its driver started. An outgoing call to a centre (or the emergency) number is
    /// one this device placed before a restart, and nobody else can place a call from it: it is taken over as the
    /// call in progress, so the resumed alarm does not dial over a centre that is still listening. Anything else
    /// (an incoming call, a held one, a stranger's number) is ended on its own, never touching the adopted call.
    mutating func existingCall(_ existing: ExistingCall) {
        if state.call?.id == existing.id { return }
        let number = existing.number.map(PhoneNumber.normalize) ?? ""
        let emergency = !number.isEmpty && number == PhoneNumber.normalize(settings.emergencyNumber)
        let centre = !number.isEmpty && settings.centreNumbers.contains { PhoneNumber.normalize($0) == number }
        let progress: CallProgress? = switch existing.status {
        case .dialing: .dialing
        case .alerting: .alerting
        case .active: .connected
        case .held, .incoming, .waiting: nil
        }
        // An attempt of ours that is not connected yet gives way: the resumed alarm dialled before the driver had
        // read the modem's list (that dial is refused while the modem lists a call), and the kept call may already
        // be ringing at the centre or connected.
        var supersededAttempt: CallID?
        if let attempt = state.call, attempt.placedByDevice, !attempt.connected, case .outgoing = attempt.id {
            supersededAttempt = attempt.id
        }
        guard existing.outgoing, centre || emergency, let progress, state.call == nil || supersededAttempt != nil else {
            effects.append(.hangUp(existing.id))
            effects.append(.announce(.existingCallEnded(number: existing.number)))
            return
        }
        if let supersededAttempt {
            state.call = nil
            effects.append(.cancelTimer(.callSetup))
            effects.append(.hangUp(supersededAttempt))
        }
        let connected = progress == .connected
        state.call = CallState(id: existing.id, number: existing.number, connected: connected, emergency: emergency && !centre)
        effects.append(.announce(.callAdopted(number: existing.number ?? "", connected: connected)))
        if var alarm {
            alarm.waitingToRedial = false
            self.alarm = alarm
            effects.append(.cancelTimer(.redial))
        }
        if connected {
            state.counters.callsConnected += 1
            if var alarm {
                alarm.consecutiveFailures = 0
                if centre { alarm.centreReached = true }
                self.alarm = alarm
                markDelivered(.call)
            }
        } else {
            effects.append(.startTimer(.callSetup, after: settings.callSetupTimeout))
        }
    }

    mutating func rejectCall(_ id: CallID, caller: String?) {
        state.counters.callsRejected += 1
        effects.append(.reject(id))
        effects.append(.announce(.callerRejected(caller: caller)))
    }

    func isCentre(_ caller: String) -> Bool {
        let normalized = PhoneNumber.normalize(caller)
        guard !normalized.isEmpty else { return false }
        return (settings.centreNumbers + settings.callbackNumbers).contains { PhoneNumber.normalize($0) == normalized }
    }
}

func backoff(initial: Duration, maximum: Duration, step: Int) -> Duration {
    var delay = initial
    for _ in 0..<max(step, 0) {
        delay = delay * 2
        if delay >= maximum { return maximum }
    }
    return min(delay, maximum)
}

public enum PhoneNumber {
    /// Digits and a leading "+" only; "00" international prefix written as "+". Numbers are compared
    /// exactly after this: a board lists its centre numbers in the form the network presents them.
    public static func normalize(_ number: String) -> String {
        var digits = String(number.filter { $0.isASCII && ($0.isNumber || $0 == "+") })
        if digits.hasPrefix("00") { digits = "+" + digits.dropFirst(2) }
        let plus = digits.hasPrefix("+")
        let body = digits.filter { $0 != "+" }
        return plus ? "+" + body : body
    }
}
