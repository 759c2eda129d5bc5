/// Haptic patterns. There is deliberately no sound and no light here: the alarm is silent.
public enum Indication: String, Sendable, Hashable, Codable {
    /// The alarm was raised; nothing is delivered yet.
    case alarmRaised = "alarm-raised"
    /// A report was acknowledged, an SMS accepted or the centre's call connected.
    case delivered
}

public enum PositionRate: String, Sendable, Hashable, Codable {
    /// Receiver kept warm at a low rate so a press finds a fresh fix.
    case idle
    case alarm
}

public enum DeliveryPath: String, Sendable, Hashable, Codable {
    case report
    case sms
    case call
}

public enum AlarmEndReason: String, Sendable, Hashable, Codable {
    case centreEnded = "centre-ended"
    case trackingExpired = "tracking-expired"
}

/// Decisions worth a line in the timeline and the log; they change nothing by themselves.
public enum Milestone: Sendable, Hashable, Codable {
    case alarmRaised(alarmNumber: Int)
    /// An alarm journalled before a restart goes on.
    case alarmResumed(alarmNumber: Int)
    case delivered(DeliveryPath)
    case emergencyFallback(number: String)
    case cancelRequested
    case callerRejected(caller: String?)
    case callbackAnswered(caller: String)
    /// A call the modem already had when its driver started was taken over as the call in progress.
    case callAdopted(number: String, connected: Bool)
    /// A call the modem already had that is not ours to keep (incoming, held, not a centre number): ended on its own.
    case existingCallEnded(number: String?)
    case centreHungUp
    case alarmEnded(AlarmEndReason)
    case triggerIgnored
    /// What became of a centre command: exactly one per command, so the timeline never shows an ignored
    /// command as if it had been carried out.
    case centreCommand(CentreCommand, CentreCommandOutcome)
}

/// What the core did with an (already authenticated) centre command.
public enum CentreCommandOutcome: Sendable, Hashable, Codable {
    case actedOn
    /// The command names an alarm that is not the active one; `active` is the one that is (nil: none).
    case notTheActiveAlarm(active: Int?)
    /// An end without an alarm number (a link that cannot say) while no alarm is active.
    case noActiveAlarm
    /// A call-back while a call is up: the call in progress is not disturbed.
    case callInProgress
    /// A call-back to a centre number the board does not have.
    case noSuchCentreNumber
    /// A position request with neither a fix nor a serving cell to report.
    case noPositionKnown
}

/// What the runtime is asked to do. Effects are executed in order, without waiting for results:
/// results come back as events.
public enum Effect: Sendable, Hashable {
    case startTimer(TimerID, after: Duration)
    case cancelTimer(TimerID)
    case dial(CallID, number: String)
    case hangUp(CallID)
    case answer(CallID)
    case reject(CallID)
    case sendReport(Report)
    case sendSMS(to: String, Report)
    case indicate(Indication)
    case setPositionRate(PositionRate)
    case captureAudio(Bool)
    case announce(Milestone)
}
