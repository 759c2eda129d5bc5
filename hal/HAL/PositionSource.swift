import AlarmCore

public enum PositionUpdate: Sendable, Hashable {
    case fix(Fix)
    /// The receiver has no fix (or is gone); the last fix keeps aging in the core.
    case lost(FaultKind?)
}

/// Where the wearer is: fixes as they come, at a rate the core chooses.
public protocol PositionSourceDevice: Sendable {
    func start(_ updates: @escaping @Sendable (PositionUpdate) -> Void) throws(HALError)
    func setRate(_ rate: PositionRate)
}
