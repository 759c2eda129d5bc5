import AlarmCore

/// Drives the pure machine through a sequence of events, like the runtime would, and keeps
/// every effect so tests can assert whole transition sequences.
struct Harness {
    var machine: AlarmMachine
    var state = AlarmState()
    var now = Instant.origin
    /// Effects of the last step.
    var effects: [Effect] = []
    /// Every effect since the harness started.
    var all: [Effect] = []
    /// Running timers and when they fire, as the runtime would keep them.
    var timers: [TimerID: Instant] = [:]

    init(_ configure: (inout AlarmSettings) -> Void = { _ in }) {
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3220000001", "+3220000002"]
        configure(&settings)
        machine = AlarmMachine(settings: settings)
    }

    @discardableResult
    mutating func send(_ input: Input) -> [Effect] {
        let (next, effects) = machine.step(state, Event(input, at: now))
        state = next
        self.effects = effects
        all += effects
        for effect in effects {
            switch effect {
            case .startTimer(let id, let after): timers[id] = now + after
            case .cancelTimer(let id): timers[id] = nil
            default: break
            }
        }
        return effects
    }

    /// Advances time, firing due timers in order, exactly as the runtime's clock does.
    mutating func advance(_ duration: Duration) -> [Effect] {
        let end = now + duration
        var fired: [Effect] = []
        while let (id, at) = timers.filter({ $0.value <= end }).min(by: { $0.value < $1.value }) {
            now = at
            timers[id] = nil
            fired += send(.timer(id))
        }
        now = end
        return fired
    }

    mutating func at(_ duration: Duration) { now = now + duration }

    /// Press and hold long enough to raise the alarm.
    mutating func trigger() {
        send(.button(.pressed))
        _ = advance(machine.settings.triggerHold)
        send(.button(.released))
    }

    var dials: [String] { all.compactMap { if case .dial(_, let n) = $0 { n } else { nil } } }
    var reports: [Report] { all.compactMap { if case .sendReport(let r) = $0 { r } else { nil } } }
    var indications: [Indication] { all.compactMap { if case .indicate(let i) = $0 { i } else { nil } } }

    var currentCall: CallID? { state.call?.id }
}

extension Array where Element == Effect {
    var dialled: [String] { compactMap { if case .dial(_, let n) = $0 { n } else { nil } } }
    var reports: [Report] { compactMap { if case .sendReport(let r) = $0 { r } else { nil } } }
    var milestones: [Milestone] { compactMap { if case .announce(let m) = $0 { m } else { nil } } }
}

let brussels = Fix(latitude: 50.8466, longitude: 4.3528, horizontalAccuracy: 8,
                   fixTime: WallTime(millisecondsSince1970: 1_795_000_000_000))

func moved(_ fix: Fix, northMetres: Double) -> Fix {
    var f = fix
    f.latitude += northMetres / 111_195
    return f
}
