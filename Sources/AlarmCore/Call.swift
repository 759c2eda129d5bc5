/// Identifies one voice call. Outgoing ids are chosen by the core, so it can tell
/// a late event of an abandoned attempt from one of the current call; incoming ids
/// are chosen by the modem backend.
public enum CallID: Sendable, Hashable, Codable, CustomStringConvertible {
    case outgoing(Int)
    case incoming(Int)
    /// A call the modem already had when its driver started (the daemon restarted, the modem recovered): the modem
    /// backend names it, the core decides whether it is the alarm's call (adopted) or ended on its own.
    case existing(Int)

    public var description: String {
        switch self {
        case .outgoing(let n): "out#\(n)"
        case .incoming(let n): "in#\(n)"
        case .existing(let n): "existing#\(n)"
        }
    }
}

/// A call the modem listed (+CLCC) when its driver started, before anything else concerning calls.
public struct ExistingCall: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case dialing, alerting, active, held, incoming, waiting
    }

    public var id: CallID
    /// Placed by this device (27.007 <dir> 0): the network routed it, so its number cannot be spoofed.
    public var outgoing: Bool
    public var number: String?
    public var status: Status

    public init(id: CallID, outgoing: Bool, number: String?, status: Status) {
        self.id = id
        self.outgoing = outgoing
        self.number = number
        self.status = status
    }
}

/// Why a call ended, as far as the modem can tell (3GPP release cause via +CEER, or the final result).
public enum CallEndReason: Sendable, Hashable, Codable {
    /// The far end hung up a connected call (cause 16). For the centre this means "we are done listening".
    case normalClearing
    case busy
    case noAnswer
    case noCarrier
    /// The modem refused the dial (no network, no SIM, +CME ERROR …).
    case dialFailed(FaultKind)
    /// The radio link or network dropped the call.
    case networkFailure
    /// We hung up ourselves.
    case localHangUp
    case unknown
}

public enum CallProgress: Sendable, Hashable, Codable {
    case dialing
    case alerting
    case connected
    case ended(CallEndReason)
}
