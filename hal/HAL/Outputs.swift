import AlarmCore

/// A vibration pattern: alternating on and off times in milliseconds, starting with on.
public struct VibrationPattern: Sendable, Hashable, Codable {
    public var milliseconds: [Int]
    public init(_ milliseconds: [Int]) { self.milliseconds = milliseconds }
}

/// The haptic indicator. There is no sound and no light during an alarm: the wearer feels, nobody sees.
public protocol Vibrator: Sendable {
    func vibrate(_ pattern: VibrationPattern)
}

/// A digital output (GPIO line), e.g. an audio amplifier's enable pin that must stay off.
public protocol OutputLine: Sendable {
    func set(active: Bool) throws(HALError)
}

/// Battery and charging state.
public protocol PowerMonitor: Sendable {
    func start(_ status: @escaping @Sendable (PowerStatus) -> Void) throws(HALError)
}
