import AlarmCodecs
import AlarmCore

/// Which DC-09 message type carries the alarm events (positions always travel as SIA-DCS: receivers accept only
/// one extended block on a Contact ID frame).
public enum DC09Format: String, Sendable, Hashable, CaseIterable {
    case siaDCS = "SIA-DCS"
    case contactID = "ADM-CID"
}

/// One event code in both vocabularies. Every code here is in the tables of common receivers (checked against
/// pysiaalarm's SIA codes and its Contact ID → SIA mapping); docs/reporting.md lists them.
public struct DC09EventCode: Sendable, Hashable {
    public var sia: String
    /// Contact ID: qualifier (1 new event, 3 restore) and the three-digit event.
    public var contactIDQualifier: Int
    public var contactIDEvent: Int

    public static let silentPanic = DC09EventCode(sia: "HA", contactIDQualifier: 1, contactIDEvent: 122)
    /// A follow-up of the hold-up alarm (supervisory): a new position, not a new alarm.
    public static let positionUpdate = DC09EventCode(sia: "HS", contactIDQualifier: 1, contactIDEvent: 122)
    public static let cancel = DC09EventCode(sia: "OC", contactIDQualifier: 1, contactIDEvent: 406)
    public static let alarmEnded = DC09EventCode(sia: "HH", contactIDQualifier: 3, contactIDEvent: 122)
    public static let emergencyCall = DC09EventCode(sia: "QA", contactIDQualifier: 1, contactIDEvent: 101)
    public static let periodicTest = DC09EventCode(sia: "RP", contactIDQualifier: 1, contactIDEvent: 602)
    public static let batteryLow = DC09EventCode(sia: "YT", contactIDQualifier: 1, contactIDEvent: 302)
    public static let batteryRestored = DC09EventCode(sia: "YR", contactIDQualifier: 3, contactIDEvent: 302)
    /// "Battery missing/dead": the device is about to go silent.
    public static let batteryCritical = DC09EventCode(sia: "YM", contactIDQualifier: 1, contactIDEvent: 311)
    /// Communication trouble: the modem was unusable.
    public static let modemTrouble = DC09EventCode(sia: "YC", contactIDQualifier: 1, contactIDEvent: 350)
    public static let modemRestored = DC09EventCode(sia: "YK", contactIDQualifier: 3, contactIDEvent: 350)
    /// Sensor trouble: no GNSS fix for long.
    public static let gnssTrouble = DC09EventCode(sia: "YX", contactIDQualifier: 1, contactIDEvent: 380)
    public static let gnssRestored = DC09EventCode(sia: "YZ", contactIDQualifier: 3, contactIDEvent: 380)
    /// System trouble: the journal cannot be written.
    public static let storageTrouble = DC09EventCode(sia: "YX", contactIDQualifier: 1, contactIDEvent: 300)
    public static let storageRestored = DC09EventCode(sia: "YZ", contactIDQualifier: 3, contactIDEvent: 300)
    /// System peripheral trouble: the microphone self-test failed.
    public static let microphoneTrouble = DC09EventCode(sia: "YX", contactIDQualifier: 1, contactIDEvent: 330)
    public static let microphoneRestored = DC09EventCode(sia: "YZ", contactIDQualifier: 3, contactIDEvent: 330)
    /// The button's device is gone: Contact ID 331 ("polling loop open": the link to an input device is broken),
    /// which receivers map to `YX`/`YZ` like the other device troubles, under its own event number so that a
    /// Contact ID receiver tells it from GNSS (380), storage (300) and microphone (330) trouble; in SIA-DCS the text
    /// block's `kind=button-trouble` does.
    public static let buttonTrouble = DC09EventCode(sia: "YX", contactIDQualifier: 1, contactIDEvent: 331)
    public static let buttonRestored = DC09EventCode(sia: "YZ", contactIDQualifier: 3, contactIDEvent: 331)
    /// Service required: the GNSS receiver's date is wrong (sensor trouble; `kind=gnss-time-trouble` in the text block
    /// tells it from a missing fix).
    public static let gnssTimeTrouble = DC09EventCode(sia: "YX", contactIDQualifier: 1, contactIDEvent: 380)
    /// Tamper: the provisioning bundle on the card was refused (someone tried to change where alarms go).
    public static let provisioningTamper = DC09EventCode(sia: "TA", contactIDQualifier: 1, contactIDEvent: 137)

    public static func code(for kind: ReportKind) -> DC09EventCode {
        switch kind {
        case .alarm: .silentPanic
        case .positionUpdate: .positionUpdate
        case .cancelRequested: .cancel
        case .emergencyCallPlaced: .emergencyCall
        case .trackingEnded: .alarmEnded
        case .periodicTest: .periodicTest
        case .batteryLow: .batteryLow
        case .batteryRestored: .batteryRestored
        case .batteryCritical: .batteryCritical
        case .modemTrouble: .modemTrouble
        case .modemRestored: .modemRestored
        case .gnssTrouble: .gnssTrouble
        case .gnssRestored: .gnssRestored
        case .storageTrouble: .storageTrouble
        case .storageRestored: .storageRestored
        case .microphoneTrouble: .microphoneTrouble
        case .microphoneRestored: .microphoneRestored
        case .gnssTimeTrouble: .gnssTimeTrouble
        case .provisioningTamper: .provisioningTamper
        case .buttonTrouble: .buttonTrouble
        case .buttonRestored: .buttonRestored
        }
    }
}

/// Turns a report into the DC-09 message a receiving centre reads.
public struct DC09Composer: Sendable {
    public var account: DC09Account
    public var format: DC09Format
    public var deviceID: String
    /// `key=value` fields that the periodic test's text block carries (the firmware version and the provisioning
    /// digest), so the centre sees at the next test that the device's software or configuration changed.
    public var identity: [String] = []

    public init(account: DC09Account, format: DC09Format, deviceID: String, identity: [String] = []) {
        self.account = account
        self.format = format
        self.deviceID = deviceID
        self.identity = identity
    }

    /// `now`: the corrected UTC time for the timestamp. `battery` and `signal` go into the text block.
    public func message(for report: Report, now: WallTime, battery: Int? = nil, signal: Int? = nil) -> DC09Message {
        let code = DC09EventCode.code(for: report.kind)
        // Positions never ride on a Contact ID frame (one extended block at most there).
        let contactID = format == .contactID && report.kind != .positionUpdate
        var extended: [String] = []
        if let fix = report.position {
            extended.append("X" + Self.degrees(fix.longitude))
            extended.append("Y" + Self.degrees(fix.latitude))
            if let altitude = fix.altitude, altitude.isFinite { extended.append("Z" + Self.metres(altitude)) }
            extended.append("H" + String(DC09Timestamp.format(fix.fixTime).dropFirst()))
        }
        extended.append("I" + detail(report, battery: battery, signal: signal))
        if contactID {
            // Receivers accept at most one extended block on a Contact ID frame and none of ours fits alone:
            // the alarm goes bare and its position follows in the next SIA-DCS update (docs/reporting.md).
            let data = "#\(account.account)|\(code.contactIDQualifier)\(code.contactIDEvent) 01 \(Self.three(report.alarmNumber % 1000))"
            return DC09Message(kind: .contactID, sequence: report.sequence, account: account, data: data,
                               extended: [], timestamp: now)
        }
        let data = "#\(account.account)|Nri1/\(code.sia)"
        return DC09Message(kind: .siaDCS, sequence: report.sequence, account: account, data: data,
                           extended: extended, timestamp: now)
    }

    /// The text block: `key=value` pairs separated by `;` (docs/reporting.md).
    func detail(_ report: Report, battery: Int?, signal: Int?) -> String {
        var fields = ["dev=\(deviceID)", "alarm=\(report.alarmNumber)", "kind=\(report.kind.rawValue)"]
        if let fix = report.position {
            let source = switch fix.source {
            case .gnss: "G"
            case .lastKnown: "L"
            case .cell: "C"
            }
            fields.append("src=\(source)")
            if fix.horizontalAccuracy.isFinite { fields.append("rd=\(Int(fix.horizontalAccuracy.rounded()))") }
            if let age = report.positionAge { fields.append("age=\(age.components.seconds)") }
        } else {
            fields.append("src=none")
        }
        if let cell = report.cell {
            fields.append("cell=\(cell.mcc)-\(cell.mnc)-\(String(cell.areaCode, radix: 16, uppercase: true))-\(String(cell.cellID, radix: 16, uppercase: true))-\(cell.accessTechnology)")
        }
        if let button = report.button { fields.append("btn=\(button == .available ? "ok" : "lost")") }
        if let battery { fields.append("bat=\(battery)") }
        if let signal { fields.append("sig=\(signal)") }
        if report.kind == .periodicTest { fields += identity }
        return fields.joined(separator: ";")
    }

    /// Signed decimal degrees with six decimals (about 0.1 m), e.g. `+50.850346`, `-0.127758`.
    public static func degrees(_ value: Double) -> String {
        let scaled = Int64((abs(value) * 1_000_000).rounded())
        let fraction = String(scaled % 1_000_000)
        return (value < 0 ? "-" : "+") + "\(scaled / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    static func metres(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }

    static func three(_ n: Int) -> String {
        let text = String(n)
        return String(repeating: "0", count: max(0, 3 - text.count)) + text
    }
}
