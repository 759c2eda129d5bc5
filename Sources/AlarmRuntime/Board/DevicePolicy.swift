import AlarmCore

/// What a device board may not say, whoever wrote it: each option here weakens the protection of the person who
/// wears the device, so a `device` board that asks for one is refused at load with the key and the reason, before
/// anything runs. Simulator and HIL boards keep them for development and rigs (docs/boards.md).
public enum DevicePolicy {
    /// The hold that raises an alarm: short enough that a threatened person can raise it, long enough that a bump
    /// does not.
    public static let triggerHold: ClosedRange<Duration> = .milliseconds(500) ... .seconds(5)
    /// Position updates must outlast the time a patrol needs to arrive.
    public static let minimumTracking: Duration = .seconds(600)
    /// The centre must hear from a healthy device at least daily, or it cannot tell a dead device from a quiet one.
    public static let longestPeriodicTest: Duration = .seconds(86_400)
    /// Link supervision (DC-09 NULL frames) at least hourly; off is not an option.
    public static let supervision: ClosedRange<Duration> = .seconds(20) ... .seconds(3600)

    public static func check(_ board: Board) throws(BoardError) {
        guard board.kind == .device else { return }
        func refuse(_ key: String, _ why: String) -> BoardError { BoardError(file: board.file, key: key, problem: why) }
        let alarm = board.alarm
        if let link = board.roles[.reportLink], link.scheme == "tcp" {
            throw refuse("roles.reportLink", "the interim \"tcp://\" link is plaintext and unauthenticated: a device board reports "
                + "over DC-09 with encryption (\"dc09+tcp://HOST:PORT\" or \"dc09+udp://HOST:PORT\")")
        }
        if let reporting = board.reporting {
            if reporting.keyFile == nil {
                throw refuse("reporting.encryption", "\"none\" sends the victim's location in clear: not on a device board")
            }
            if reporting.smsFormat == "plain" {
                throw refuse("reporting.smsFormat", "\"plain\" fallback SMS carry the location unauthenticated and in clear: "
                    + "a device board seals them (\"sealed\", with smsKeyFile)")
            }
            if let interval = reporting.supervisionInterval, !supervision.contains(interval) {
                throw refuse("reporting.supervision", "must be between \(DurationText.format(supervision.lowerBound)) and "
                    + "\(DurationText.format(supervision.upperBound)) on a device board, got \(DurationText.format(interval))")
            }
            if reporting.supervisionInterval == nil {
                throw refuse("reporting.supervision", "\"off\" hides a dead link from the centre: not on a device board")
            }
        }
        guard let interval = alarm.periodicTestInterval else {
            throw refuse("alarm.periodicTest", "\"off\": the centre would not notice a dead or reconfigured device; "
                + "a device board tests at least every 24h")
        }
        if interval > longestPeriodicTest {
            throw refuse("alarm.periodicTest", "\(DurationText.format(interval)) is longer than 24h: the centre would notice a dead "
                + "or reconfigured device too late")
        }
        if !triggerHold.contains(alarm.triggerHold) {
            throw refuse("alarm.triggerHold", "\(DurationText.format(alarm.triggerHold)) is outside 0.5s-5s: shorter raises alarms "
                + "by accident, longer may never be held in an attack")
        }
        if alarm.trackingDuration < minimumTracking {
            throw refuse("alarm.trackingDuration", "\(DurationText.format(alarm.trackingDuration)) is under 10min: the centre "
                + "would lose the victim's position before a patrol arrives")
        }
        if board.testPort != nil {
            throw refuse("testPort", "a Modbus test port has no authentication: not on a device board")
        }
    }
}
