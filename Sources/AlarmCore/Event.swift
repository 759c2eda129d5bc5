public enum ButtonEdge: String, Sendable, Hashable, Codable {
    case pressed
    case released
}

/// Whether the button's device is there to be read. While it is lost no press can reach the core.
public enum ButtonHealth: String, Sendable, Hashable, Codable {
    /// Opened (or reopened) and its current state read.
    case available
    /// Vanished (unplugged, driver gone); the backend keeps reopening it.
    case lost
}

/// A command from the receiving centre, already authenticated by the link that carried them.
public struct CentreCommand: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Hashable, Codable {
        case endAlarm = "end-alarm"
        /// Report the position now.
        case positionNow = "position-now"
        /// Call centre number `argument` (1-based) for a listen-in: the device calls out.
        case callBack = "call-back"
        /// Report the device's state now (the self-test report).
        case selfTest = "self-test"
    }

    public var action: Action
    /// The alarm the command is meant for. A late or replayed command for an earlier alarm must not end
    /// the current one; nil (a link that cannot say) applies to whatever alarm is active.
    public var alarmNumber: Int?
    /// The centre number to call for `callBack` (1-based).
    public var argument: Int?

    public init(_ action: Action, alarmNumber: Int? = nil, argument: Int? = nil) {
        self.action = action
        self.alarmNumber = alarmNumber
        self.argument = argument
    }

    public static let endAlarm = CentreCommand(.endAlarm)
    public static func endAlarm(_ alarmNumber: Int) -> CentreCommand { CentreCommand(.endAlarm, alarmNumber: alarmNumber) }
}

/// Everything the core can be told. Each comes with the instant it happened.
public enum Input: Sendable, Hashable {
    case button(ButtonEdge)
    case timer(TimerID)
    case fix(Fix)
    /// The last good fix from before a restart, `age` old: a cold boot has a position at once.
    case restoredFix(Fix, age: Duration)
    /// The position source lost its fix or its receiver.
    case fixLost
    case network(NetworkStatus)
    /// The data supervisor's verdict on the IP path to the centre.
    case dataPath(DataPath)
    case call(CallID, CallProgress)
    /// `caller` is nil when withheld.
    case incomingCall(CallID, caller: String?)
    /// A call the modem already had when its driver started: adopted as the alarm's call or ended on its own.
    case existingCall(ExistingCall)
    case report(sequence: Int, ReportOutcome)
    /// The network accepted (or refused) a fallback SMS carrying report `sequence`.
    case sms(sequence: Int, accepted: Bool)
    case centre(CentreCommand)
    case power(PowerStatus)
    /// The runtime started (once per process): periodic duties begin.
    case started
    /// The state journalled before a restart, its instants already moved onto this process's timeline.
    case resumed(DurableState)
    /// Whether the journal could be written (false: storage full or failing).
    case storageHealth(Bool)
    /// The microphone self-test's verdict (true: plausible).
    case microphoneHealth(Bool)
    /// Whether the GNSS receiver's date is plausible (false: outside the plausible window, e.g. 1024 weeks off).
    /// The runtime posts false once per process; its fixes are still used, dated by the device.
    case receiverTimeHealth(Bool)
    /// The provisioning bundle on the card was refused at start and the device runs on the last one it verified.
    /// The runtime posts it once per process; the core reports tamper to the centre.
    case provisioningRefused
    /// The button backend's device came or went (a backend that cannot lose its device never says).
    case buttonHealth(ButtonHealth)
}

public struct Event: Sendable, Hashable {
    public var at: Instant
    public var input: Input
    public init(_ input: Input, at: Instant) {
        self.at = at
        self.input = input
    }
}

/// The core's timers. Starting a timer that is already running restarts it.
public enum TimerID: Sendable, Hashable, Codable, CustomStringConvertible {
    case triggerHold
    case cancelGestureWindow
    case callSetup
    case redial
    case emergencyFallback
    case reportAck(Int)
    case reportRetry(Int)
    case trackingTick
    case trackingEnd
    case callbackWindowEnd
    case positionSMSDue
    /// No receiver acknowledged report N in time: it goes by SMS too.
    case smsFallback(Int)
    case periodicTest
    case modemTrouble
    case gnssTrouble
    /// The button's device has been gone for `buttonTroubleAfter`.
    case buttonTrouble

    public var description: String {
        switch self {
        case .triggerHold: "trigger-hold"
        case .cancelGestureWindow: "cancel-gesture-window"
        case .callSetup: "call-setup"
        case .redial: "redial"
        case .emergencyFallback: "emergency-fallback"
        case .reportAck(let s): "report-ack(\(s))"
        case .reportRetry(let s): "report-retry(\(s))"
        case .trackingTick: "tracking-tick"
        case .trackingEnd: "tracking-end"
        case .callbackWindowEnd: "callback-window-end"
        case .positionSMSDue: "position-sms-due"
        case .smsFallback(let s): "sms-fallback(\(s))"
        case .periodicTest: "periodic-test"
        case .modemTrouble: "modem-trouble"
        case .gnssTrouble: "gnss-trouble"
        case .buttonTrouble: "button-trouble"
        }
    }
}
