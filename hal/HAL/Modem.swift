import AlarmCore

/// Registration, signal and serving cell, as the modem reports them.
public protocol NetworkMonitor: Sendable {
    func start(_ status: @escaping @Sendable (NetworkStatus) -> Void) throws(HALError)
}

public enum CallAction: String, Sendable, Hashable {
    case hangUp = "hang-up"
    case answer
    /// Rejects an incoming or waiting call without touching a call in progress.
    case reject
}

public enum CallEvent: Sendable, Hashable {
    case progress(CallID, CallProgress)
    case incoming(CallID, caller: String?)
    /// A call the modem already had when the backend started (reported before the backend accepts a dial).
    case existing(ExistingCall)
}

/// Voice calls. Results arrive as events; no call is ever answered unless asked to.
public protocol VoiceCalls: Sendable {
    func start(_ events: @escaping @Sendable (CallEvent) -> Void) throws(HALError)
    func dial(_ id: CallID, number: String)
    func perform(_ action: CallAction, on id: CallID)
}

/// Text messages; `completion` says whether the network accepted the message.
public protocol SMSSender: Sendable {
    func send(text: String, to number: String, completion: @escaping @Sendable (Result<Void, HALError>) -> Void)
}

/// A cellular modem is these three capabilities; a board may serve them from one device.
public typealias Modem = NetworkMonitor & VoiceCalls & SMSSender

/// A modem that behaves differently while an alarm is active (e.g. call waiting off, so no second caller
/// can even knock while the centre listens).
public protocol AlarmAwareModem: Sendable {
    func setAlarmMode(_ on: Bool)
}
