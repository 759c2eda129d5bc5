/// The alarm policy as a pure function: `step(state, event) -> (state, effects)`.
/// No I/O, no clock: time arrives in events, timeouts are `.timer` events.
public struct AlarmMachine: Sendable {
    public let settings: AlarmSettings

    public init(settings: AlarmSettings) { self.settings = settings }

    public func step(_ state: AlarmState, _ event: Event) -> (AlarmState, [Effect]) {
        var transition = Transition(settings: settings, state: state, now: event.at)
        transition.handle(event.input)
        return (transition.state, transition.effects)
    }
}

/// One step in progress: the state being changed and the effects decided so far.
struct Transition {
    let settings: AlarmSettings
    var state: AlarmState
    let now: Instant
    var effects: [Effect] = []

    init(settings: AlarmSettings, state: AlarmState, now: Instant) {
        self.settings = settings
        self.state = state
        self.now = now
    }

    mutating func handle(_ input: Input) {
        switch input {
        case .button(let edge): button(edge)
        case .timer(let timer): timerFired(timer)
        case .fix(let fix):
            fixReceived(fix)
            watchGNSSHealth(fix)
        case .restoredFix(let fix, let age):
            // Never over a fix received since the start.
            if state.lastFix == nil { state.lastFix = ReceivedFix(fix: fix, receivedAt: now - age) }
        case .fixLost: break  // the last fix ages on its own; nothing to decide now
        case .network(let status):
            networkChanged(status)
            watchModemHealth(status)
        case .dataPath(let path): dataPathChanged(path)
        case .call(let id, let progress): callProgressed(id, progress)
        case .incomingCall(let id, let caller): incomingCall(id, caller: caller)
        case .existingCall(let existing): existingCall(existing)
        case .report(let sequence, let outcome): reportOutcome(sequence, outcome)
        case .sms(let sequence, let accepted): smsOutcome(sequence, accepted: accepted)
        case .centre(let command): centreCommand(command)
        case .power(let status): powerChanged(status)
        case .resumed(let saved): resume(saved)
        case .microphoneHealth(let ok):
            if !ok, !state.microphoneTroubleReported {
                state.microphoneTroubleReported = true
                queueReport(.microphoneTrouble)
            } else if ok, state.microphoneTroubleReported {
                state.microphoneTroubleReported = false
                queueReport(.microphoneRestored)
            }
        case .storageHealth(let ok):
            if !ok, !state.storageTroubleReported {
                state.storageTroubleReported = true
                queueReport(.storageTrouble)
            } else if ok, state.storageTroubleReported {
                state.storageTroubleReported = false
                queueReport(.storageRestored)
            }
        case .receiverTimeHealth(let ok): receiverTimeChecked(ok)
        case .provisioningRefused: queueReport(.provisioningTamper)
        case .buttonHealth(let health): buttonHealthChanged(health)
        case .started:
            if let interval = settings.periodicTestInterval { effects.append(.startTimer(.periodicTest, after: interval)) }
            effects.append(.startTimer(.gnssTrouble, after: settings.gnssTroubleAfter))
        }
    }

    // MARK: Alarm state access

    var alarm: ActiveAlarm? {
        get { state.activeAlarm }
        set {
            if let newValue { state.mode = .alarm(newValue) }
        }
    }

    mutating func timerFired(_ timer: TimerID) {
        switch timer {
        case .triggerHold: holdElapsed()
        case .cancelGestureWindow: state.button.shortPresses.removeAll()
        case .callSetup: callSetupTimedOut()
        case .redial: redialDue()
        case .emergencyFallback: emergencyFallbackDue()
        case .reportAck(let sequence): reportTimedOut(sequence)
        case .reportRetry(let sequence): resend(sequence)
        case .trackingTick: trackingTick()
        case .trackingEnd: endAlarm(.trackingExpired)
        case .callbackWindowEnd:
            if case .afterAlarm = state.mode { state.mode = .idle }
        case .positionSMSDue: positionSMSDue()
        case .smsFallback(let sequence): sendBySMS(sequence)
        case .modemTrouble:
            state.modemTroubleTimerRunning = false
            if !state.modemTroubleReported {
                state.modemTroubleReported = true
                queueReport(.modemTrouble)
            }
        case .gnssTrouble: gnssWatchFired()
        case .buttonTrouble: buttonWatchFired()
        case .periodicTest:
            queueReport(.periodicTest)
            if let interval = settings.periodicTestInterval { effects.append(.startTimer(.periodicTest, after: interval)) }
        }
    }

    /// Announces its outcome before acting, so the command's record precedes what it caused (e.g. "alarm ended").
    mutating func centreCommand(_ command: CentreCommand) {
        func outcome(_ outcome: CentreCommandOutcome) { effects.append(.announce(.centreCommand(command, outcome))) }
        let active = state.activeAlarm?.number
        if let target = command.alarmNumber, target != active {
            outcome(.notTheActiveAlarm(active: active))
            return
        }
        switch command.action {
        case .endAlarm:
            guard active != nil else { return outcome(.noActiveAlarm) }
            outcome(.actedOn)
            endAlarm(.centreEnded)
        case .positionNow:
            guard state.lastFix != nil || state.network.status.cell != nil else { return outcome(.noPositionKnown) }
            outcome(.actedOn)
            queueReport(.positionUpdate)
        case .selfTest:
            outcome(.actedOn)
            queueReport(.periodicTest)
        case .callBack:
            let position = command.argument ?? 1
            guard state.call == nil else { return outcome(.callInProgress) }
            guard position >= 1, position <= settings.centreNumbers.count else { return outcome(.noSuchCentreNumber) }
            outcome(.actedOn)
            callBack(number: position)
        }
    }

    // MARK: Raising and ending

    mutating func raiseAlarm() {
        guard state.activeAlarm == nil else {
            effects.append(.announce(.triggerIgnored))
            return
        }
        state.alarmsRaised += 1
        state.mode = .alarm(ActiveAlarm(number: state.alarmsRaised, startedAt: now))
        state.button.shortPresses.removeAll()
        effects.append(.announce(.alarmRaised(alarmNumber: state.alarmsRaised)))
        effects.append(.indicate(.alarmRaised))
        // Call and report go out together; neither waits for a position.
        if let call = state.call {
            // A centre call from the previous alarm is still up (or a callback is being answered): it carries
            // this alarm too. When it ends, this alarm dials for itself.
            if var alarm {
                alarm.inheritedCall = call.id
                if call.connected, call.placedByDevice, !call.emergency { alarm.centreReached = true }
                self.alarm = alarm
            }
            if call.connected, call.placedByDevice { markDelivered(.call) }
        } else {
            dialNext()
        }
        queueReport(.alarm)
        effects.append(.setPositionRate(.alarm))
        effects.append(.captureAudio(true))
        effects.append(.startTimer(.trackingTick, after: settings.trackingInterval))
        effects.append(.startTimer(.trackingEnd, after: settings.trackingDuration))
        armEmergencyFallbackIfUnregistered()
    }

    mutating func endAlarm(_ reason: AlarmEndReason) {
        guard state.activeAlarm != nil else { return }
        // Positions of an ended alarm are history; what must arrive (alarm, cancel, end) stays queued.
        dropSupersededUpdates()
        if reason == .trackingExpired { queueReport(.trackingEnded) }
        state.mode = .afterAlarm(callbackUntil: now + settings.callbackWindow)
        for timer: TimerID in [.trackingTick, .trackingEnd, .redial, .emergencyFallback, .cancelGestureWindow,
                                 .positionSMSDue] {
            effects.append(.cancelTimer(timer))
        }
        if let call = state.call, !call.connected {
            // An attempt still ringing is abandoned: nobody is waiting for it any more.
            effects.append(.cancelTimer(.callSetup))
            effects.append(.hangUp(call.id))
            state.call = nil
        }
        effects.append(.setPositionRate(.idle))
        effects.append(.captureAudio(false))
        effects.append(.startTimer(.callbackWindowEnd, after: settings.callbackWindow))
        effects.append(.announce(.alarmEnded(reason)))
    }

    mutating func markDelivered(_ path: DeliveryPath) {
        guard var alarm, !alarm.delivered else { return }
        alarm.delivered = true
        self.alarm = alarm
        effects.append(.indicate(.delivered))
        effects.append(.announce(.delivered(path)))
    }
}
