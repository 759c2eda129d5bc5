public enum Registration: String, Sendable, Codable, Hashable {
    case notRegistered = "not-registered"
    case searching
    case denied
    case home
    case roaming
    case unknown

    public var isRegistered: Bool { self == .home || self == .roaming }
}

/// What the modem says about the network; one value so the core sees a consistent picture.
public struct NetworkStatus: Sendable, Hashable, Codable {
    public var registration: Registration
    /// Not registered, but the modem can still place emergency calls (limited service).
    public var emergencyCallsPossible: Bool
    /// 0...31 as in +CSQ, nil when unknown.
    public var signal: Int?
    public var cell: CellInfo?
    public var simPresent: Bool

    public init(registration: Registration, emergencyCallsPossible: Bool = false, signal: Int? = nil,
                cell: CellInfo? = nil, simPresent: Bool = true) {
        self.registration = registration
        self.emergencyCallsPossible = emergencyCallsPossible
        self.signal = signal
        self.cell = cell
        self.simPresent = simPresent
    }

    public static let unknown = NetworkStatus(registration: .unknown)
}

/// Whether reports can travel over IP right now, as the data supervisor sees it.
public enum DataPath: String, Sendable, Codable, Hashable {
    /// Nothing supervises the data path (a board whose report link does not ride on the modem): assume it works.
    case unsupervised
    case up
    /// No data connection: no PDP context, or the modem's interface is gone or has no address or route.
    case down
    /// Registered, but packet data is held while a voice call runs (2G without DTM, a fallback from LTE
    /// for the call): exactly when the centre listens in.
    case suspended

    public var carriesReports: Bool { self == .up || self == .unsupervised }
}

public struct PowerStatus: Sendable, Hashable, Codable {
    /// 0...100
    public var batteryPercent: Int
    public var charging: Bool
    public init(batteryPercent: Int, charging: Bool) {
        self.batteryPercent = batteryPercent
        self.charging = charging
    }
}

/// The small closed set of failure kinds the core switches on; every HAL error maps to one.
public enum FaultKind: String, Sendable, Codable, Hashable {
    /// Not possible right now (no registration, no data path, not connected); retry later.
    case notReady = "not-ready"
    /// The peer or device did not answer in time.
    case timeout
    /// The peer refused (NAK, +CME ERROR, connection refused).
    case rejected
    /// The device or service is absent (unplugged, not configured).
    case unavailable
    /// Anything else at the I/O level.
    case io
}
