import AlarmCore

/// A configuration mistake: which file, which key, what was expected.
public struct BoardError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var key: String
    public var problem: String

    public init(file: String, key: String, problem: String) {
        self.file = file
        self.key = key
        self.problem = problem
    }

    public var description: String { key.isEmpty ? "\(file): \(problem)" : "\(file): \(key): \(problem)" }
}

/// Walks one JSON object of a board file, remembering the keys it read so that anything left over
/// is reported as unknown (a misspelt key must not silently fall back to a default).
public struct ConfigReader {
    public let file: String
    public let path: String
    public let fields: [String: JSONValue]
    public private(set) var consumed: Set<String> = []

    public init(file: String, path: String, value: JSONValue) throws(BoardError) {
        guard case .object(let fields) = value else {
            throw BoardError(file: file, key: path, problem: "expected an object, got \(value.typeName)")
        }
        self.file = file
        self.path = path
        self.fields = fields
    }

    public func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func error(_ key: String, _ problem: String) -> BoardError {
        BoardError(file: file, key: keyPath(key), problem: problem)
    }

    public mutating func value(_ key: String) -> JSONValue? {
        consumed.insert(key)
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    public mutating func required<T>(_ key: String, _ expected: String,
                              _ read: (inout ConfigReader, String) throws(BoardError) -> T?) throws(BoardError) -> T {
        guard let value = try read(&self, key) else { throw error(key, "missing (expected \(expected))") }
        return value
    }

    public mutating func string(_ key: String) throws(BoardError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw error(key, "expected a string, got \(value.typeName)") }
        return text
    }

    public mutating func bool(_ key: String) throws(BoardError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw error(key, "expected true or false, got \(value.typeName)") }
        return flag
    }

    public mutating func number(_ key: String, in range: ClosedRange<Double>? = nil) throws(BoardError) -> Double? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value else { throw error(key, "expected a number, got \(value.typeName)") }
        if let range, !range.contains(number) {
            throw error(key, "expected a number from \(range.lowerBound) to \(range.upperBound), got \(number)")
        }
        return number
    }

    public mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(BoardError) -> Int? {
        guard let number = try number(key) else { return nil }
        guard number == number.rounded(.towardZero), let integer = Int(exactly: number), range.contains(integer) else {
            throw error(key, "expected a whole number from \(range.lowerBound) to \(range.upperBound), got \(number)")
        }
        return integer
    }

    public mutating func duration(_ key: String, minimum: Duration = .milliseconds(1)) throws(BoardError) -> Duration? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value, let duration = DurationText.parse(text) else {
            throw error(key, "expected a duration such as \"500ms\", \"2s\", \"10min\" or \"1h\", got \(value.description)")
        }
        guard duration >= minimum else { throw error(key, "expected at least \(DurationText.format(minimum)), got \(text)") }
        return duration
    }

    public mutating func strings(_ key: String) throws(BoardError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw error(key, "expected a list of strings, got \(value.typeName)") }
        var strings: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw error("\(key)[\(index)]", "expected a string, got \(item.typeName)")
            }
            strings.append(text)
        }
        return strings
    }

    public mutating func integers(_ key: String, in range: ClosedRange<Int>) throws(BoardError) -> [Int]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw error(key, "expected a list of numbers, got \(value.typeName)") }
        var numbers: [Int] = []
        for (index, item) in items.enumerated() {
            guard case .number(let number) = item, let integer = Int(exactly: number), range.contains(integer) else {
                throw error("\(key)[\(index)]", "expected a whole number from \(range.lowerBound) to \(range.upperBound), got \(item.description)")
            }
            numbers.append(integer)
        }
        return numbers
    }

    public mutating func object(_ key: String) throws(BoardError) -> ConfigReader? {
        guard let value = value(key) else { return nil }
        return try ConfigReader(file: file, path: keyPath(key), value: value)
    }

    public mutating func list(_ key: String) throws(BoardError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw error(key, "expected a list, got \(value.typeName)") }
        return items
    }

    /// Call last: any key not read is a mistake in the file.
    public func rejectUnknownKeys(known extra: [String] = []) throws(BoardError) {
        let unknown = Set(fields.keys).subtracting(consumed).subtracting(extra).sorted()
        if let first = unknown.first {
            let known = consumed.sorted().joined(separator: ", ")
            throw error(first, "unknown key (known keys here: \(known))")
        }
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let n): "\(n)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[\(a.map(\.description).joined(separator: ", "))]"
        case .object: "{…}"
        }
    }
}

/// "500ms", "2s", "2.5s", "10min", "1h": the one way durations are written in board files and on command lines.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces
        let units: [(String, Double)] = [("ms", 0.001), ("min", 60), ("s", 1), ("h", 3600)]
        for (suffix, seconds) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // Thirty days bounds every setting we have and keeps the arithmetic far from overflow.
            guard let value = Double(number), value >= 0, value * seconds <= 30 * 86_400 else { return nil }
            return .milliseconds(Int64((value * seconds * 1000).rounded()))
        }
        return nil
    }

    public static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)min" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        if ms > 1000, ms % 100 == 0 { return "\(ms / 1000).\(ms % 1000 / 100)s" }
        return "\(ms)ms"
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
