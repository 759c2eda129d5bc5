/// The radio access technology, from 27.007's <AcT>. What matters to the alarm is whether voice and data can
/// run at once: LTE with IMS (VoLTE) can, 2G without DTM cannot.
public enum RadioTechnology: String, Sendable, Hashable, Codable {
    case gsm = "GSM"
    case umts = "UMTS"
    case lte = "LTE"
    case nr = "NR"
    case unknown

    public init(accessTechnology act: Int?) {
        switch act {
        case 0?, 1?, 3?: self = .gsm
        case 2?, 4?, 5?, 6?: self = .umts
        case 7?, 8?, 9?: self = .lte
        case 10?, 11?, 12?, 13?: self = .nr
        default: self = .unknown
        }
    }
}

/// What the modem says about its data connection: the PDP context (PDN connection) and the radio.
public struct ModemDataStatus: Sendable, Hashable {
    /// The context the board's data path uses is active.
    public var contextActive: Bool
    /// Its address as the modem reports it (+CGPADDR), when known. Shown in status, never in reports.
    public var address: String?
    public var technology: RadioTechnology
    /// A voice call is being set up or is up.
    public var inVoiceCall: Bool

    public init(contextActive: Bool, address: String? = nil, technology: RadioTechnology = .unknown, inVoiceCall: Bool = false) {
        self.contextActive = contextActive
        self.address = address
        self.technology = technology
        self.inVoiceCall = inVoiceCall
    }
}

/// The modem's data connection: brought up and kept up by the backend, reported on every change.
public protocol DataConnectionMonitor: Sendable {
    func start(_ status: @escaping @Sendable (ModemDataStatus) -> Void) throws(HALError)
}
