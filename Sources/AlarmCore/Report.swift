/// What a report tells the centre.
public enum ReportKind: String, Sendable, Hashable, Codable {
    /// The alarm itself: the first report of an alarm.
    case alarm
    case positionUpdate = "position-update"
    /// The wearer made the cancel gesture. Reported, never acted on by the device alone:
    /// a cancel may be made under duress.
    case cancelRequested = "cancel-requested"
    /// No registration for too long: the device dialled the emergency number instead of the centre.
    case emergencyCallPlaced = "emergency-call-placed"
    /// The tracking window ran out.
    case trackingEnded = "tracking-ended"
    /// The periodic test report: the centre knows the device is alive and reachable.
    case periodicTest = "periodic-test"
    case batteryLow = "battery-low"
    case batteryRestored = "battery-restored"
    /// The last report before the battery gives out, with the position.
    case batteryCritical = "battery-critical"
    /// The modem has not been usable for `modemTroubleAfter` (reported once it is back: it is the transport).
    case modemTrouble = "modem-trouble"
    case modemRestored = "modem-restored"
    /// No GNSS fix for `gnssTroubleAfter` (indoors for long, or a receiver fault: the centre cannot tell).
    case gnssTrouble = "gnss-trouble"
    case gnssRestored = "gnss-restored"
    /// The journal cannot be written (storage full or failing): the alarm goes on from memory.
    case storageTrouble = "storage-trouble"
    case storageRestored = "storage-restored"
    /// The microphone self-test found it dead or clipped: the centre's listen-in may hear nothing.
    case microphoneTrouble = "microphone-trouble"
    case microphoneRestored = "microphone-restored"
    /// The GNSS receiver's date is wrong (e.g. 1024 weeks off): the device dates positions itself; the receiver
    /// needs service. Reported once per start.
    case gnssTimeTrouble = "gnss-time-trouble"
    /// The provisioning bundle on the card was refused (altered, foreign, older, missing): someone tried to change
    /// where alarms go; the device runs on the last bundle it verified. Once per start, by SMS too.
    case provisioningTamper = "provisioning-tamper"
    /// The button's device has been gone for `buttonTroubleAfter`: the wearer cannot raise an alarm.
    case buttonTrouble = "button-trouble"
    case buttonRestored = "button-restored"

    /// Goes by SMS too when IP cannot carry it in time.
    public var mustArrive: Bool {
        switch self {
        case .alarm, .cancelRequested, .emergencyCallPlaced, .trackingEnded, .batteryCritical, .provisioningTamper: true
        case .positionUpdate, .periodicTest, .batteryLow, .batteryRestored, .modemTrouble, .modemRestored, .gnssTrouble,
             .gnssRestored, .storageTrouble, .storageRestored, .microphoneTrouble, .microphoneRestored, .gnssTimeTrouble,
             .buttonTrouble, .buttonRestored: false
        }
    }

    /// Part of an alarm's own traffic: its acknowledgement tells the wearer the alarm got through.
    public var belongsToAlarm: Bool {
        switch self {
        case .alarm, .positionUpdate, .cancelRequested, .emergencyCallPlaced, .trackingEnded: true
        case .periodicTest, .batteryLow, .batteryRestored, .batteryCritical, .modemTrouble, .modemRestored, .gnssTrouble,
             .gnssRestored, .storageTrouble, .storageRestored, .microphoneTrouble, .microphoneRestored, .gnssTimeTrouble,
             .provisioningTamper, .buttonTrouble, .buttonRestored: false
        }
    }
}

/// One report to the receiving centre. Resends carry the same sequence number so the centre
/// can drop duplicates.
public struct Report: Sendable, Hashable, Codable {
    /// 1...9999, wraps to 1 (as SIA DC-09 sequences do).
    public var sequence: Int
    public var kind: ReportKind
    /// Which alarm this report belongs to (a per-device counter).
    public var alarmNumber: Int
    /// The best position at the moment of the decision, nil when none is known.
    public var position: Fix?
    /// Age of `position` when the report was decided.
    public var positionAge: Duration?
    /// Up to two earlier reported positions, newest first, so the centre sees the direction of travel.
    public var previousPositions: [Fix]
    public var cell: CellInfo?
    /// The button's health when a test report (periodic or on the centre's request) was decided; nil on every
    /// other report.
    public var button: ButtonHealth?

    public init(sequence: Int, kind: ReportKind, alarmNumber: Int, position: Fix?, positionAge: Duration?,
                previousPositions: [Fix], cell: CellInfo?, button: ButtonHealth? = nil) {
        self.sequence = sequence
        self.kind = kind
        self.alarmNumber = alarmNumber
        self.position = position
        self.positionAge = positionAge
        self.previousPositions = previousPositions
        self.cell = cell
        self.button = button
    }

    /// Position updates are superseded by newer ones; everything else must arrive.
    public var isSupersededByNewerUpdate: Bool { kind == .positionUpdate }
}

public enum ReportOutcome: Sendable, Hashable, Codable {
    case acknowledged
    /// The centre refused this frame (NAK); resent with backoff.
    case rejected
    /// The link could not carry it (no data path, connection refused …).
    case failed(FaultKind)
    /// The receiver cannot process this frame at all (DC-09 DUH): resending will not help.
    case refused
}
