/// Everything the alarm policy lets a board choose. Defaults are the product's defaults.
public struct AlarmSettings: Sendable, Hashable, Codable {
    /// How long the button must be held to raise an alarm.
    public var triggerHold: Duration = .seconds(2)
    /// Centre numbers, tried in order, cycling.
    public var centreNumbers: [String] = []
    /// Numbers whose incoming calls are answered during an alarm once the device's own call has reached the centre,
    /// besides the centre numbers.
    public var callbackNumbers: [String] = []
    public var emergencyNumber: String = "112"
    /// Without registration for this long (and with limited service), dial the emergency number.
    public var emergencyFallbackAfter: Duration = .seconds(60)
    /// No call progress from the modem for this long: give the attempt up as unanswered.
    public var callSetupTimeout: Duration = .seconds(60)
    public var redialInitialDelay: Duration = .seconds(2)
    public var redialMaxDelay: Duration = .seconds(30)

    public var reportAckTimeout: Duration = .seconds(10)
    public var reportRetryInitialDelay: Duration = .seconds(1)
    public var reportRetryMaxDelay: Duration = .seconds(30)
    /// Where the SMS fallback goes; nil keeps it off (the reporting issue brings the SMS format).
    public var smsFallbackNumber: String? = nil
    /// An alarm (or cancel, or end) that no receiver has acknowledged this long after it was decided also goes
    /// by SMS; IP keeps trying.
    public var smsFallbackAfter: Duration = .seconds(10)
    /// While IP cannot carry reports during an alarm, the newest position goes by SMS at most this often.
    public var positionSMSInterval: Duration = .seconds(60)

    public var trackingInterval: Duration = .seconds(10)
    public var trackingDuration: Duration = .seconds(3600)
    /// How long after an alarm status shows it as just ended (no call is answered then: see `callbackNumbers`).
    public var callbackWindow: Duration = .seconds(1800)

    /// A fix younger than this counts as fresh.
    public var fixFreshness: Duration = .seconds(5)
    /// A fix less accurate than this (metres) is not called fresh.
    public var fixAccuracyLimit: Double = 100

    /// The periodic test report; nil: none.
    public var periodicTestInterval: Duration? = .seconds(86_400)
    /// Battery at or below this (not charging) is reported once; charging or 5 points above reports the restore.
    public var batteryLowPercent = 20
    /// At or below this the device reports its position one last time.
    public var batteryCriticalPercent = 5

    /// The modem unusable (no AT answers, restarting, unplugged) this long is device trouble.
    public var modemTroubleAfter: Duration = .seconds(180)
    /// No GNSS fix this long is reported (informative: indoors looks the same as a fault).
    public var gnssTroubleAfter: Duration = .seconds(6 * 3600)
    /// The button's device gone this long is device trouble. Shorter outages (a reopen after a glitch, which the
    /// backend retries from 0.5 s on) are not reported: the wearer could not have pressed in vain for long.
    public var buttonTroubleAfter: Duration = .seconds(5)

    /// Off unless a board enables it.
    public var cancelGesture: CancelGesture? = nil

    public init() {}
}

/// Several short presses within a window during an alarm.
public struct CancelGesture: Sendable, Hashable, Codable {
    public var presses: Int
    public var within: Duration
    public init(presses: Int, within: Duration) {
        self.presses = presses
        self.within = within
    }
}
