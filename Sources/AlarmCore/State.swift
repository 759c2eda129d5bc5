/// The whole memory of the alarm logic. A plain value: copy it, compare it, journal it.
public struct AlarmState: Sendable, Hashable {
    public enum Mode: Sendable, Hashable {
        case idle
        case alarm(ActiveAlarm)
        /// The alarm is over; until `callbackUntil` status still shows it as just ended. No incoming call is answered here
        /// (caller ID can be forged): the centre asks for a listen-in with the authenticated CALL command.
        case afterAlarm(callbackUntil: Instant)
    }

    public var mode: Mode = .idle
    public var button = ButtonState()
    public var network = NetworkState()
    public var lastFix: ReceivedFix?
    public var power: PowerStatus?
    public var call: CallState?
    /// Reports not yet acknowledged, by sequence. They outlive the alarm that made them.
    public var outbox: [Int: PendingReport] = [:]
    public var nextSequence = 1
    public var nextReportOrder = 0
    public var nextOutgoingCall = 1
    public var alarmsRaised = 0
    public var counters = Counters()
    /// Battery reports already made (each once until the battery recovers).
    public var batteryLowReported = false
    public var batteryCriticalReported = false
    public var modemTroubleReported = false
    public var modemTroubleTimerRunning = false
    public var gnssTroubleReported = false
    public var storageTroubleReported = false
    public var microphoneTroubleReported = false
    /// Since when the button's device has been gone (nil: available, or never said otherwise).
    public var buttonLostSince: Instant?
    public var buttonTroubleReported = false

    public init() {}

    public var activeAlarm: ActiveAlarm? {
        if case .alarm(let alarm) = mode { return alarm }
        return nil
    }
}

public struct ButtonState: Sendable, Hashable {
    public var pressedAt: Instant?
    /// The current press already raised an alarm (so its release must not raise another).
    public var currentPressTriggered = false
    /// Short presses during an alarm, for the cancel gesture.
    public var shortPresses: [Instant] = []
}

public struct NetworkState: Sendable, Hashable {
    public var status = NetworkStatus.unknown
    /// Since when the modem has reported no registration; nil while registered and before its first report
    /// (the monotonic origin is the machine's boot, not the daemon's: it must not count as "unregistered since").
    public var unregisteredSince: Instant?
    public var data = DataPath.unsupervised
}

public struct ReceivedFix: Sendable, Hashable {
    public var fix: Fix
    /// When the device received it, on the monotonic timeline (ages are measured from this).
    public var receivedAt: Instant
}

public struct CallState: Sendable, Hashable {
    public var id: CallID
    public var number: String?
    public var connected: Bool
    /// The call is to (or from) the emergency number rather than the centre.
    public var emergency: Bool
    /// Placed while the modem had no registration: if it fails after registration came back,
    /// the failure says nothing about the centre and the next attempt goes at once.
    public var placedUnregistered = false
    /// The device placed this call (now, or before a restart and adopted since). Only such a call reaches the
    /// centre for sure: the network routes it by the number we dialled, while an incoming caller ID can be forged.
    public var placedByDevice = true

    public init(id: CallID, number: String?, connected: Bool, emergency: Bool, placedUnregistered: Bool = false,
                placedByDevice: Bool = true) {
        self.id = id
        self.number = number
        self.connected = connected
        self.emergency = emergency
        self.placedUnregistered = placedUnregistered
        self.placedByDevice = placedByDevice
    }
}

public struct PendingReport: Sendable, Hashable, Codable {
    public var report: Report
    public var attempts: Int
    /// Queue order (sequence numbers wrap, this does not): resends go out oldest first.
    public var order: Int
    /// Sent and waiting for the answer; false while it waits out a retry backoff.
    public var awaitingAnswer = true
    public var smsSent = false
    /// The receiver said it cannot process it (DUH): never resent over IP.
    public var refused = false
}

public struct ActiveAlarm: Sendable, Hashable, Codable {
    public var number: Int
    public var startedAt: Instant
    /// Index into the centre numbers of the next attempt.
    public var nextNumberIndex = 0
    /// Failed attempts since the last connected call; drives the backoff.
    public var consecutiveFailures = 0
    public var waitingToRedial = false
    public var delivered = false
    /// The centre hung up a connected call: it has heard enough, do not call again.
    public var centreHungUp = false
    /// A call the device placed has connected in this alarm. Until then no incoming call is answered, whatever its
    /// caller ID: a forged centre number must not take the line while the device is trying to reach the real centre.
    public var centreReached = false
    public var emergencyFallbackReported = false
    /// A centre call that was already connected when this alarm was raised (the previous alarm's).
    public var inheritedCall: CallID?
    public var lastReported: Fix?
    /// The last reported position was a fresh GNSS fix (anything less is improved on at once).
    public var lastReportedFresh = false
    /// Earlier reported positions, newest first (at most two).
    public var previousReported: [Fix] = []
    /// When the last position went by SMS (positions go by SMS at most once per `positionSMSInterval`).
    public var lastPositionSMSAt: Instant?
    /// A position SMS waits for the rate limit to pass.
    public var positionSMSPending = false

    public init(number: Int, startedAt: Instant) {
        self.number = number
        self.startedAt = startedAt
    }
}

extension ActiveAlarm {
    /// A journal written by an earlier firmware lacks the fields added since (e.g. `centreReached`): they take
    /// their defaults, so a firmware update in the middle of an alarm resumes the alarm instead of losing it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(number: try c.decode(Int.self, forKey: .number), startedAt: try c.decode(Instant.self, forKey: .startedAt))
        nextNumberIndex = try c.decodeIfPresent(Int.self, forKey: .nextNumberIndex) ?? nextNumberIndex
        consecutiveFailures = try c.decodeIfPresent(Int.self, forKey: .consecutiveFailures) ?? consecutiveFailures
        waitingToRedial = try c.decodeIfPresent(Bool.self, forKey: .waitingToRedial) ?? waitingToRedial
        delivered = try c.decodeIfPresent(Bool.self, forKey: .delivered) ?? delivered
        centreHungUp = try c.decodeIfPresent(Bool.self, forKey: .centreHungUp) ?? centreHungUp
        centreReached = try c.decodeIfPresent(Bool.self, forKey: .centreReached) ?? centreReached
        emergencyFallbackReported = try c.decodeIfPresent(Bool.self, forKey: .emergencyFallbackReported) ?? emergencyFallbackReported
        inheritedCall = try c.decodeIfPresent(CallID.self, forKey: .inheritedCall)
        lastReported = try c.decodeIfPresent(Fix.self, forKey: .lastReported)
        lastReportedFresh = try c.decodeIfPresent(Bool.self, forKey: .lastReportedFresh) ?? lastReportedFresh
        previousReported = try c.decodeIfPresent([Fix].self, forKey: .previousReported) ?? previousReported
        lastPositionSMSAt = try c.decodeIfPresent(Instant.self, forKey: .lastPositionSMSAt)
        positionSMSPending = try c.decodeIfPresent(Bool.self, forKey: .positionSMSPending) ?? positionSMSPending
    }
}

public struct Counters: Sendable, Hashable, Codable {
    public var reportsSent = 0
    public var reportsAcknowledged = 0
    public var reportResends = 0
    public var callsPlaced = 0
    public var callsConnected = 0
    public var callsRejected = 0
    public init() {}
}
