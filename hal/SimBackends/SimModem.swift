import AlarmCore
import HAL
import Synchronization

/// How the simulated network treats the next outgoing call.
public enum SimCallOutcome: Sendable, Hashable {
    /// The far end answers after the modem's answer delay.
    case answer
    case busy
    case noAnswer
    case noCarrier
    /// The modem never says anything about the call (a hung modem).
    case silence
}

public struct SimModemSettings: Sendable, Hashable {
    public var network = NetworkStatus(registration: .home, emergencyCallsPossible: true, signal: 21,
                                       cell: CellInfo(mcc: 206, mnc: 1, areaCode: 0x3E9, cellID: 0x1A2B3C,
                                                      accessTechnology: "LTE"))
    /// Time from start until the network status above is reached (the modem reports "searching" until then).
    public var registerAfter: Duration = .milliseconds(400)
    public var alertAfter: Duration = .milliseconds(300)
    public var answerAfter: Duration = .seconds(2)
    public var smsDelay: Duration = .milliseconds(500)
    public var emergencyNumbers: Set<String> = ["112"]
    public init() {}
}

/// A modem on a scripted network. Control handle: network changes, scripted call outcomes,
/// dropped calls, the centre hanging up, incoming calls.
public final class SimModem: NetworkMonitor, VoiceCalls, SMSSender {
    private enum CallPhase { case dialing, alerting, ringingIn, active }

    private struct State {
        var settings: SimModemSettings
        var network: NetworkStatus = NetworkStatus(registration: .searching, emergencyCallsPossible: true)
        var calls: [CallID: CallPhase] = [:]
        var outcomes: [SimCallOutcome] = []
        var timers: [CallID: any Cancellable] = [:]
        var nextIncoming = 1
        var dialled: [String] = []
        var sent: [(String, String)] = []
        var answered: [CallID] = []
        var rejected: [CallID] = []
    }

    private let clock: any Clock
    private let state: Mutex<State>
    private let networkRelay = Relay<NetworkStatus>()
    private let callRelay = Relay<CallEvent>()

    public init(clock: any Clock, settings: SimModemSettings = SimModemSettings()) {
        self.clock = clock
        state = Mutex(State(settings: settings))
    }

    // MARK: HAL

    public func start(_ status: @escaping @Sendable (NetworkStatus) -> Void) throws(HALError) {
        networkRelay.connect(status)
        let (initial, settings) = state.withLock { ($0.network, $0.settings) }
        status(initial)
        _ = clock.schedule(after: settings.registerAfter) { [self] in setNetwork(settings.network) }
    }

    public func start(_ events: @escaping @Sendable (CallEvent) -> Void) throws(HALError) {
        callRelay.connect(events)
    }

    public func dial(_ id: CallID, number: String) {
        let (allowed, outcome, settings) = state.withLock { state in
            state.dialled.append(number)
            let emergency = state.settings.emergencyNumbers.contains(number)
            let allowed = state.network.registration.isRegistered || (emergency && state.network.emergencyCallsPossible)
            let outcome = state.outcomes.isEmpty ? SimCallOutcome.answer : state.outcomes.removeFirst()
            if allowed { state.calls[id] = .dialing }
            return (allowed, outcome, state.settings)
        }
        guard allowed else {
            later(.milliseconds(100), id) { [self] in callRelay.emit(.progress(id, .ended(.dialFailed(.notReady)))) }
            return
        }
        if outcome == .silence { return }
        later(.milliseconds(50), id) { [self] in
            callRelay.emit(.progress(id, .dialing))
            later(settings.alertAfter, id) { [self] in
                guard moveCall(id, to: .alerting) else { return }
                callRelay.emit(.progress(id, .alerting))
                let end: CallEndReason? = switch outcome {
                case .answer, .silence: nil
                case .busy: .busy
                case .noAnswer: .noAnswer
                case .noCarrier: .noCarrier
                }
                later(end == nil ? settings.answerAfter : .milliseconds(500), id) { [self] in
                    if let end {
                        finish(id, end)
                    } else if moveCall(id, to: .active) {
                        callRelay.emit(.progress(id, .connected))
                    }
                }
            }
        }
    }

    public func perform(_ action: CallAction, on id: CallID) {
        switch action {
        case .hangUp:
            finish(id, .localHangUp)
        case .reject:
            state.withLock { $0.rejected.append(id) }
            finish(id, .localHangUp)
        case .answer:
            let ringing = state.withLock { state in
                state.answered.append(id)
                return state.calls[id] == .ringingIn
            }
            guard ringing else { return }
            later(.milliseconds(200), id) { [self] in
                if moveCall(id, to: .active) { callRelay.emit(.progress(id, .connected)) }
            }
        }
    }

    public func send(text: String, to number: String, completion: @escaping @Sendable (Result<Void, HALError>) -> Void) {
        let (registered, delay) = state.withLock { state in
            state.sent.append((number, text))
            return (state.network.registration.isRegistered, state.settings.smsDelay)
        }
        _ = clock.schedule(after: delay) {
            completion(registered ? .success(()) : .failure(HALError(.notReady, "no network registration for SMS")))
        }
    }

    // MARK: Control handle

    public func setNetwork(_ status: NetworkStatus) {
        state.withLock { $0.network = status }
        networkRelay.emit(status)
    }

    public var network: NetworkStatus { state.withLock { $0.network } }

    /// Scripts the outcome of the next outgoing calls, in order; afterwards calls are answered.
    public func queueOutcomes(_ outcomes: [SimCallOutcome]) { state.withLock { $0.outcomes += outcomes } }

    public func setAnswerDelay(_ delay: Duration) { state.withLock { $0.settings.answerAfter = delay } }

    /// The radio link drops every call in progress.
    public func dropCalls() { endActiveCalls(.networkFailure) }

    /// The centre hangs up: normal call clearing.
    public func centreHangsUp() { endActiveCalls(.normalClearing) }

    /// A call comes in; `caller` nil means a withheld number.
    @discardableResult
    public func ring(from caller: String?) -> CallID {
        let id = state.withLock { state in
            let id = CallID.incoming(state.nextIncoming)
            state.nextIncoming += 1
            state.calls[id] = .ringingIn
            return id
        }
        callRelay.emit(.incoming(id, caller: caller))
        return id
    }

    public var dialledNumbers: [String] { state.withLock { $0.dialled } }
    public var sentMessages: [(to: String, text: String)] { state.withLock { $0.sent.map { (to: $0.0, text: $0.1) } } }
    public var answeredCalls: [CallID] { state.withLock { $0.answered } }
    public var rejectedCalls: [CallID] { state.withLock { $0.rejected } }
    public var activeCalls: [CallID] { state.withLock { $0.calls.filter { $0.value == .active }.map(\.key) } }

    // MARK: Internals

    private func later(_ delay: Duration, _ id: CallID, _ action: @escaping @Sendable () -> Void) {
        let timer = clock.schedule(after: delay, action)
        state.withLock { $0.timers[id] = timer }
    }

    private func moveCall(_ id: CallID, to phase: CallPhase) -> Bool {
        state.withLock { state in
            guard state.calls[id] != nil else { return false }
            state.calls[id] = phase
            return true
        }
    }

    private func finish(_ id: CallID, _ reason: CallEndReason) {
        let existed = state.withLock { state in
            state.timers.removeValue(forKey: id)?.cancel()
            return state.calls.removeValue(forKey: id) != nil
        }
        if existed { callRelay.emit(.progress(id, .ended(reason))) }
    }

    private func endActiveCalls(_ reason: CallEndReason) {
        let active = activeCalls
        for id in active { finish(id, reason) }
    }
}
