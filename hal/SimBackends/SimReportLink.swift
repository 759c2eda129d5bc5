import AlarmCore
import HAL
import Synchronization

/// How the in-memory centre answers.
public enum SimCentreBehaviour: Sendable, Hashable {
    case acknowledge
    case reject
    /// Receives but never answers (the core's ack timeout must fire).
    case silent
}

/// An in-process receiving centre behind a report link. It needs the modem's data path:
/// without registration, sends fail as `notReady`. Control handle: behaviour, received reports, commands.
public final class SimReportLink: ReportLink {
    private struct State {
        var behaviour: SimCentreBehaviour = .acknowledge
        var received: [Report] = []
    }

    private let clock: any Clock
    private let latency: Duration
    private let dataAvailable: @Sendable () -> Bool
    private let relay = Relay<ReportLinkEvent>()
    private let state = Mutex(State())

    public init(clock: any Clock, latency: Duration = .milliseconds(80),
                dataAvailable: @escaping @Sendable () -> Bool = { true }) {
        self.clock = clock
        self.latency = latency
        self.dataAvailable = dataAvailable
    }

    public func start(_ events: @escaping @Sendable (ReportLinkEvent) -> Void) throws(HALError) {
        relay.connect(events)
    }

    public func send(_ report: Report) {
        guard dataAvailable() else {
            _ = clock.schedule(after: .milliseconds(10)) { [self] in
                relay.emit(.outcome(sequence: report.sequence, .failed(.notReady)))
            }
            return
        }
        let behaviour = state.withLock { state in
            state.received.append(report)
            return state.behaviour
        }
        relay.emit(.transmitted(sequence: report.sequence))
        let outcome: ReportOutcome? = switch behaviour {
        case .acknowledge: .acknowledged
        case .reject: .rejected
        case .silent: nil
        }
        guard let outcome else { return }
        _ = clock.schedule(after: latency) { [self] in relay.emit(.outcome(sequence: report.sequence, outcome)) }
    }

    public func setBehaviour(_ behaviour: SimCentreBehaviour) { state.withLock { $0.behaviour = behaviour } }
    public var received: [Report] { state.withLock { $0.received } }
    public func sendCommand(_ command: CentreCommand) { relay.emit(.command(command)) }
}
