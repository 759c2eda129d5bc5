import AlarmCore

/// One line of the device's timeline: what happened or what the runtime did, for `alarmctl watch`,
/// `make sim` and tests. It never carries coordinates: a timeline must not become a tracking record.
public struct TimelineRecord: Sendable, Hashable, Codable {
    public enum Category: String, Sendable, Hashable, Codable {
        case boot, network, button, trigger, dial, call, incoming, report, reportAck, reportFailed
        case position, delivered, alarmEnd, sms, indicator, device, command, notice
    }

    /// Monotonic milliseconds (same origin as the daemon's clock).
    public var at: Int64
    public var category: Category
    public var text: String

    public init(at: Int64, category: Category, text: String) {
        self.at = at
        self.category = category
        self.text = text
    }
}
