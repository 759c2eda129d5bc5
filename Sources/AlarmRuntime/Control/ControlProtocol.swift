import FoundationEssentials

// The local control protocol: one JSON object per line over a Unix socket owned by the daemon's user.
//   → {"command":"status"}                       ← {"ok":true,"status":{…}}
//   → {"command":"watch"}                        ← {"ok":true} then one TimelineRecord per line
//   → {"command":"sim","arguments":["press","2.5s"]}   ← {"ok":true,"message":"…"} or {"ok":false,"error":"…"}

public struct ControlRequest: Codable, Sendable, Hashable {
    public var command: String
    public var arguments: [String]?
    public init(command: String, arguments: [String]? = nil) {
        self.command = command
        self.arguments = arguments
    }
}

public struct ControlResponse: Codable, Sendable, Hashable {
    public var ok: Bool
    public var error: String?
    public var message: String?
    public var status: RuntimeStatus?
    public init(ok: Bool, error: String? = nil, message: String? = nil, status: RuntimeStatus? = nil) {
        self.ok = ok
        self.error = error
        self.message = message
        self.status = status
    }
}

public enum ControlJSON {
    public static func line<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data(#"{"ok":false,"error":"encoding failed"}"#.utf8)
        return Array(data) + [0x0A]
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
