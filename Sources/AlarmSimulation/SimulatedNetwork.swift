import AlarmCore
import AlarmRuntime
import ModemEmulator
import SimBackends

/// What `alarmctl sim` can do to the simulated network, whichever simulator serves the modem role:
/// the high-level `SimModem` or the byte-level `ModemEmulator`.
protocol SimulatedNetwork: Sendable {
    func setRegistration(_ registration: Registration, emergencyCallsPossible: Bool)
    /// `outcome`: answer, busy, no-answer, no-carrier or silence; false when unknown.
    func scriptNextCall(_ outcome: String) -> Bool
    func setAnswerDelay(_ delay: Duration)
    func dropCalls()
    func centreHangsUp()
    /// A description of what happened to the call.
    func ring(from caller: String?) -> String
}

extension SimModem: SimulatedNetwork {
    func setRegistration(_ registration: Registration, emergencyCallsPossible: Bool) {
        var status = network
        status.registration = registration
        status.emergencyCallsPossible = emergencyCallsPossible
        setNetwork(status)
    }

    func scriptNextCall(_ outcome: String) -> Bool {
        let outcomes: [String: SimCallOutcome] = ["answer": .answer, "busy": .busy, "no-answer": .noAnswer,
                                                  "no-carrier": .noCarrier, "silence": .silence]
        guard let scripted = outcomes[outcome] else { return false }
        queueOutcomes([scripted])
        return true
    }

    func ring(from caller: String?) -> String {
        let id: CallID = ring(from: caller)
        return "incoming call \(id)"
    }
}

extension ModemEmulator: SimulatedNetwork {
    func setRegistration(_ registration: Registration, emergencyCallsPossible: Bool) {
        setRegistration(registration, emergencyCallsPossible: Optional(emergencyCallsPossible))
    }

    func scriptNextCall(_ outcome: String) -> Bool {
        guard let scripted = EmulatedCallOutcome(rawValue: outcome) else { return false }
        queueOutcomes([scripted])
        return true
    }

    func centreHangsUp() { remoteHangUp() }

    func ring(from caller: String?) -> String {
        let rang: Bool = ring(from: caller)
        return rang ? "incoming call from \(caller ?? "withheld")" : "the network gave the caller busy (call waiting off)"
    }
}

extension SimWorld {
    /// The byte-level emulator when the board uses it, else the high-level simulated modem.
    var network: (any SimulatedNetwork)? { emulator ?? modem }
}
