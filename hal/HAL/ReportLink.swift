import AlarmCore

public enum ReportLinkEvent: Sendable, Hashable {
    case outcome(sequence: Int, ReportOutcome)
    /// A command from the centre, authenticated by the link.
    case command(CentreCommand)
    case linkUp
    /// Report `sequence`'s frame was just written to the socket (each time: a resend too). Until then a report the
    /// core asked to send is only queued in the link (e.g. behind a stop-and-wait frame).
    case transmitted(sequence: Int)
    case linkDown(FaultKind)
}

/// A link whose frames carry the device's battery and signal (DC-09's detail block).
public protocol DeviceStateReporting: Sendable {
    func setDeviceState(battery: Int?, signal: Int?)
}

/// The data link to the receiving centre. `send` never blocks; the outcome comes back as an event
/// (a missing answer is the core's timeout, not the link's).
public protocol ReportLink: Sendable {
    func start(_ events: @escaping @Sendable (ReportLinkEvent) -> Void) throws(HALError)
    func send(_ report: Report)
}
