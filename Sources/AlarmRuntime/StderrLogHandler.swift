import AlarmCore
import Glibc
import Logging
import PosixIO

/// One line per log event on stderr (journald adds its own timestamp on the device; the UTC time here
/// is for the simulator and CI). Positions appear only in debug-level events, by the callers' design.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(UTCTimestamp.format(SystemTime.wallMilliseconds())) \(event.level) \(label): \(event.message)"
            + (fields.isEmpty ? "" : " \(fields)") + "\n"
        // One write per line so lines from several threads never interleave.
        _ = line.utf8CString.withUnsafeBufferPointer { buffer in
            Glibc.write(2, buffer.baseAddress, buffer.count - 1)
        }
    }
}

public enum UTCTimestamp {
    /// ISO 8601 UTC with milliseconds.
    public static func format(_ milliseconds: Int64) -> String {
        CivilTime(millisecondsSince1970: milliseconds).iso8601
    }
}
