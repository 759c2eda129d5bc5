import AlarmCore
import HAL
import Synchronization

/// Records what the wearer would have felt. Control handle: `played`.
public final class SimVibrator: Vibrator {
    private let history = Mutex<[VibrationPattern]>([])
    public init() {}
    public func vibrate(_ pattern: VibrationPattern) { history.withLock { $0.append(pattern) } }
    public var played: [VibrationPattern] { history.withLock { $0 } }
}

/// A GPIO output whose level tests can read back.
public final class SimOutputLine: OutputLine {
    private let level = Mutex<Bool?>(nil)
    public init() {}
    public func set(active: Bool) throws(HALError) { level.withLock { $0 = active } }
    /// nil until the runtime first drives the line.
    public var isActive: Bool? { level.withLock { $0 } }
}

/// Battery state. Control handle: `set(_:)`.
public final class SimPower: PowerMonitor {
    private let relay = Relay<PowerStatus>()
    private let current: Mutex<PowerStatus>

    public init(initial: PowerStatus = PowerStatus(batteryPercent: 87, charging: false)) {
        current = Mutex(initial)
    }

    public func start(_ status: @escaping @Sendable (PowerStatus) -> Void) throws(HALError) {
        relay.connect(status)
        relay.emit(current.withLock { $0 })
    }

    public func set(_ status: PowerStatus) {
        current.withLock { $0 = status }
        relay.emit(status)
    }
}

/// Records kept in memory (a storage directory is the Linux twin).
public final class InMemoryRecordStore: RecordStore {
    private let records = Mutex<[String: [UInt8]]>([:])
    public init() {}
    public func load(_ name: String) throws(HALError) -> [UInt8]? { records.withLock { $0[name] } }
    public func save(_ name: String, _ bytes: [UInt8]) throws(HALError) { records.withLock { $0[name] = bytes } }
}
