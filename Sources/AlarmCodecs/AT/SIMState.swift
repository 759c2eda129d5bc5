/// `+CPIN: <code>`, as the answer to AT+CPIN? or as the URC modems send when the SIM changes state.
public enum SIMState: Sendable, Hashable {
    case ready
    case pinRequired
    case pukRequired
    /// Also "SIM REMOVED" (hot-swap URC on some firmware): either way there is no SIM to register with.
    case notInserted
    /// Quectel reports this while the SIM is still initialising; wait rather than treat it as absent.
    case notReady
    /// Other lock states (SIM PIN2, PH-SIM PIN, PH-NET PIN, …), as sent.
    case other(String)

    public var isPresent: Bool { self != .notInserted }

    /// Reads the code alone, e.g. the payload of `ATUnsolicited.simState`.
    public init(code: String) {
        let code = ATText.trimmed(code)
        switch ATText.uppercasedASCII(code) {
        case "READY": self = .ready
        case "SIM PIN": self = .pinRequired
        case "SIM PUK": self = .pukRequired
        case "NOT INSERTED", "SIM NOT INSERTED", "SIM REMOVED", "REMOVED": self = .notInserted
        case "NOT READY": self = .notReady
        default: self = .other(code)
        }
    }

    public static func parse(_ line: String) -> SIMState? {
        guard let payload = ATText.payload(of: line, named: "+CPIN"), !payload.isEmpty else { return nil }
        return SIMState(code: payload)
    }
}
