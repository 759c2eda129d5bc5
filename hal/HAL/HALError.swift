import AlarmCore

/// Every backend failure: a closed `kind` the core switches on, and a message for the log line.
public struct HALError: Error, Sendable, CustomStringConvertible {
    public var kind: FaultKind
    public var message: String

    public init(_ kind: FaultKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
