import FoundationEssentials

/// A parsed JSON5 document as plain values, so the board reader can walk it with a key path
/// and name every unknown or mistyped key (Codable would silently ignore a misspelt key).
public indirect enum JSONValue: Sendable, Hashable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public struct EncodingError: Error, CustomStringConvertible {
        public var offset: Int
        public var description: String { "not valid UTF-8 (at byte \(offset))" }
    }

    public static func parseJSON5(_ bytes: [UInt8]) throws -> JSONValue {
        // FoundationEssentials' JSON5 scanner traps on malformed UTF-8 in an unquoted key (found by fuzzing): a
        // damaged board file must be a clear error, never a crash.
        var decoder8 = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        decoding: while true {
            switch decoder8.decode(&iterator) {
            case .scalarValue(let scalar): offset += String(scalar).utf8.count
            case .emptyInput: break decoding
            case .error: throw EncodingError(offset: offset)
            }
        }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        return try decoder.decode(JSONValue.self, from: Data(bytes))
    }

    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}
