import AlarmCore

/// Small named records that must survive a restart (sequence counters, settings learnt in the field).
/// `save` replaces a record atomically: after a power cut the old or the new value is there, never half.
public protocol RecordStore: Sendable {
    func load(_ name: String) throws(HALError) -> [UInt8]?
    func save(_ name: String, _ bytes: [UInt8]) throws(HALError)
}
