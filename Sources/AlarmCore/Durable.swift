/// The part of the alarm state that must survive a restart: the alarm in progress, every report not yet
/// acknowledged (with its sequence), the counters that make sequences and alarm numbers unique, and what was already
/// reported once. Transient things are left out on purpose: calls (the modem's state after a restart is whatever the
/// modem says), the button, the network picture, and the last fix (persisted on its own, at a slower pace, so a
/// moving fix never costs a flash write per second).
public struct DurableState: Sendable, Hashable, Codable {
    public enum Mode: Sendable, Hashable, Codable {
        case idle
        case alarm(ActiveAlarm)
        case afterAlarm(callbackUntil: Instant)
    }

    public var mode: Mode
    public var outbox: [PendingReport]
    public var nextSequence: Int
    public var nextReportOrder: Int
    public var nextOutgoingCall: Int
    public var alarmsRaised: Int
    public var counters: Counters
    public var batteryLowReported: Bool
    public var batteryCriticalReported: Bool
    public var modemTroubleReported: Bool
    public var gnssTroubleReported: Bool
    /// Optional: journals written before the button was supervised do not have it (absent: not reported). Kept so
    /// that a restart after a trouble report still reports the restore once the button opens.
    public var buttonTroubleReported: Bool? = nil
    /// Optional for the same reason: without them a restart after a storage or microphone trouble report never
    /// reported the restore.
    public var storageTroubleReported: Bool? = nil
    public var microphoneTroubleReported: Bool? = nil

    /// Every instant moved by `offset` (from the monotonic timeline it was saved on to the current one).
    public func rebased(by offset: Duration) -> DurableState {
        var copy = self
        switch mode {
        case .idle: break
        case .alarm(var alarm):
            alarm.startedAt = alarm.startedAt + offset
            alarm.lastPositionSMSAt = alarm.lastPositionSMSAt.map { $0 + offset }
            copy.mode = .alarm(alarm)
        case .afterAlarm(let until): copy.mode = .afterAlarm(callbackUntil: until + offset)
        }
        return copy
    }
}

extension AlarmState {
    public var durable: DurableState {
        let durableMode: DurableState.Mode = switch mode {
        case .idle: .idle
        case .alarm(let alarm): .alarm(alarm)
        case .afterAlarm(let until): .afterAlarm(callbackUntil: until)
        }
        return DurableState(mode: durableMode, outbox: outbox.values.sorted { $0.order < $1.order },
                            nextSequence: nextSequence, nextReportOrder: nextReportOrder, nextOutgoingCall: nextOutgoingCall,
                            alarmsRaised: alarmsRaised, counters: counters, batteryLowReported: batteryLowReported,
                            batteryCriticalReported: batteryCriticalReported, modemTroubleReported: modemTroubleReported,
                            gnssTroubleReported: gnssTroubleReported, buttonTroubleReported: buttonTroubleReported,
                            storageTroubleReported: storageTroubleReported, microphoneTroubleReported: microphoneTroubleReported)
    }
}

extension Transition {
    /// After a restart: take the journalled state back and act on it at once. An active alarm dials again (the call
    /// died with the device, or the modem forgot it), every unacknowledged report goes again with its sequence,
    /// tracking and its end continue on the remaining time, the callback window keeps its end.
    mutating func resume(_ saved: DurableState) {
        // Never over what this process has decided already (a resume arrives first, but be safe).
        guard state.activeAlarm == nil, state.outbox.isEmpty else { return }
        state.outbox = Dictionary(uniqueKeysWithValues: saved.outbox.map { ($0.report.sequence, $0) })
        state.nextSequence = saved.nextSequence
        state.nextReportOrder = saved.nextReportOrder
        state.nextOutgoingCall = max(state.nextOutgoingCall, saved.nextOutgoingCall)
        state.alarmsRaised = saved.alarmsRaised
        state.counters = saved.counters
        state.batteryLowReported = saved.batteryLowReported
        state.batteryCriticalReported = saved.batteryCriticalReported
        state.modemTroubleReported = saved.modemTroubleReported
        state.gnssTroubleReported = saved.gnssTroubleReported
        state.buttonTroubleReported = saved.buttonTroubleReported ?? false
        state.storageTroubleReported = saved.storageTroubleReported ?? false
        state.microphoneTroubleReported = saved.microphoneTroubleReported ?? false
        switch saved.mode {
        case .idle:
            break
        case .afterAlarm(let until):
            if now < until {
                state.mode = .afterAlarm(callbackUntil: until)
                effects.append(.startTimer(.callbackWindowEnd, after: until - now))
            }
        case .alarm(var alarm):
            alarm.waitingToRedial = false
            alarm.consecutiveFailures = 0
            alarm.inheritedCall = nil
            alarm.positionSMSPending = false
            state.mode = .alarm(alarm)
            effects.append(.announce(.alarmResumed(alarmNumber: alarm.number)))
            if !alarm.delivered { effects.append(.indicate(.alarmRaised)) }
            dialNext()
            effects.append(.setPositionRate(.alarm))
            effects.append(.captureAudio(true))
            effects.append(.startTimer(.trackingTick, after: settings.trackingInterval))
            let left = settings.trackingDuration - (now - alarm.startedAt)
            effects.append(.startTimer(.trackingEnd, after: max(left, .zero)))
            armEmergencyFallbackIfUnregistered()
        }
        // Everything unacknowledged goes again, oldest first, with its own sequence.
        for pending in state.outbox.values.sorted(by: { $0.order < $1.order }) where !pending.refused {
            var again = pending
            again.awaitingAnswer = false
            state.outbox[pending.report.sequence] = again
            resend(pending.report.sequence)
            if pending.report.kind.mustArrive, settings.smsFallbackNumber != nil, !pending.smsSent {
                effects.append(.startTimer(.smsFallback(pending.report.sequence), after: settings.smsFallbackAfter))
            }
        }
    }
}
