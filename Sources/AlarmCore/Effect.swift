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
