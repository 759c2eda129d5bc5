import AlarmCore

/// Small named records that must survive a restart (sequence counters, settings learnt in the field).
/// `save` replaces a record atomically: after a power cut the old or the new value is there, never half.
public protocol RecordStore: Sendable {
    func load(_ name: String) throws(HALError) -> [UInt8]?
    func save(_ name: String, _ bytes: [UInt8]) throws(HALError)
}

/// An append-only journal of entries, each written durably before the caller acts on it. Entries are
/// self-delimiting and checksummed: a torn or corrupt entry is skipped (and named in `problems`), never fatal.
public protocol JournalStore: Sendable {
    /// The newest intact entry, and one line per problem found on the way (torn tail, corrupt entry skipped).
    func latest() throws(HALError) -> (entry: [UInt8]?, problems: [String])
    /// Appends durably (fsync'd) before returning. A full storage throws `.unavailable`.
    func append(_ entry: [UInt8]) throws(HALError)
    /// Replaces the whole journal atomically with this one entry (compaction), or empties it.
    func reset(to entry: [UInt8]?) throws(HALError)
    /// Bytes on storage now (compaction is due when this grows).
    var size: Int { get }
}
