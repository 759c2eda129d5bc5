import AlarmRuntime
import PosixIO

/// A condition on one value of the map. `increasedBy…` compare with the value read when the scenario started,
/// so that one scenario runs unchanged on a fresh simulator and on a bench device whose counters are not zero.
public enum Condition: Sendable, Hashable, CustomStringConvertible {
    case equals(Int64)
    case notEquals(Int64)
    case atLeast(Int64)
    case atMost(Int64)
    case oneOf([Int64])
    case increasedBy(Int64)
    case increasedByAtLeast(Int64)

    static let keys = ["equals", "notEquals", "atLeast", "atMost", "in", "increasedBy", "increasedByAtLeast"]

    func holds(_ value: Int64, baseline: Int64) -> Bool {
        switch self {
        case .equals(let v): value == v
        case .notEquals(let v): value != v
        case .atLeast(let v): value >= v
        case .atMost(let v): value <= v
        case .oneOf(let values): values.contains(value)
        case .increasedBy(let v): value - baseline == v
        case .increasedByAtLeast(let v): value - baseline >= v
        }
    }

    public var description: String {
        switch self {
        case .equals(let v): "== \(v)"
        case .notEquals(let v): "!= \(v)"
        case .atLeast(let v): ">= \(v)"
        case .atMost(let v): "<= \(v)"
        case .oneOf(let values): "in \(values)"
        case .increasedBy(let v): "increased by \(v)"
        case .increasedByAtLeast(let v): "increased by at least \(v)"
        }
    }
}

public enum PressPath: String, Sendable, Hashable {
    /// Holding register 0 and coil 0 of the device's test port.
    case testPort
    /// The rig's button relay, across the real button's contacts.
    case relay
}

public enum Step: Sendable, Hashable {
    case waitFor(RegisterName, Condition, within: Duration)
    case check(RegisterName, Condition)
    case press(Duration, via: PressPath)
    case cutPower
    case restorePower
    case modemFault(Bool)
    case endAlarm
    case wait(Duration)
    case measure(name: String, from: String, to: String)
}

public struct Scenario: Sendable {
    public var file: String
    public var name: String
    public var description: String
    /// Each step with the mark it records when it completes (if any).
    public var steps: [(step: Step, mark: String?)]

    public static func load(_ path: String) throws(BoardError) -> Scenario {
        let bytes: [UInt8]?
        do { bytes = try StorageDirectory.readFile(path) } catch { throw BoardError(file: path, key: "", problem: "cannot read: \(error)") }
        guard let bytes else { throw BoardError(file: path, key: "", problem: "no such scenario file") }
        return try parse(bytes, file: path)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws(BoardError) -> Scenario {
        let document: JSONValue
        do { document = try JSONValue.parseJSON5(bytes) } catch { throw BoardError(file: file, key: "", problem: "not valid JSON5: \(error)") }
        var r = try ConfigReader(file: file, path: "", value: document)
        let name = try r.required("name", "the scenario's name") { (r, k) throws(BoardError) in try r.string(k) }
        let description = try r.string("description") ?? ""
        let items = try r.required("steps", "a list of steps") { (r, k) throws(BoardError) in try r.list(k) }
        var steps: [(Step, String?)] = []
        var marks: Set<String> = []
        for (index, item) in items.enumerated() {
            var s = try ConfigReader(file: file, path: "steps[\(index)]", value: item)
            let parsed = try step(&s, marks: marks)
            let mark = try s.string("mark")
            if let mark { marks.insert(mark) }
            try s.rejectUnknownKeys()
            steps.append((parsed, mark))
        }
        try r.rejectUnknownKeys()
        return Scenario(file: file, name: name, description: description, steps: steps)
    }

    static func step(_ s: inout ConfigReader, marks: Set<String>) throws(BoardError) -> Step {
        let kinds = ["waitFor", "assert", "press", "cutPower", "restorePower", "modemFault", "endAlarm", "wait", "measure"]
        let kind = try s.required("do", "one of \(kinds.joined(separator: ", "))") { (r, k) throws(BoardError) in try r.string(k) }
        switch kind {
        case "waitFor", "assert":
            let text = try s.required("register", "a register name") { (r, k) throws(BoardError) in try r.string(k) }
            guard let register = RegisterName(text) else {
                throw s.error("register", "unknown register \"\(text)\" (known: \(RegisterName.all.joined(separator: ", ")))")
            }
            let condition = try condition(&s)
            if kind == "assert" { return .check(register, condition) }
            let within = try s.required("within", "a deadline such as \"30s\"") { (r, k) throws(BoardError) in try r.duration(k) }
            return .waitFor(register, condition, within: within)
        case "press":
            let length = try s.required("length", "how long the button is held, such as \"2500ms\"") { (r, k) throws(BoardError) in
                try r.duration(k)
            }
            guard length <= .seconds(60) else { throw s.error("length", "expected at most 60s") }
            let via = try s.string("via") ?? "testPort"
            guard let path = PressPath(rawValue: via) else { throw s.error("via", "expected \"testPort\" or \"relay\", got \"\(via)\"") }
            return .press(length, via: path)
        case "cutPower": return .cutPower
        case "restorePower": return .restorePower
        case "endAlarm": return .endAlarm
        case "modemFault":
            let on = try s.required("on", "true (cut the modem's supply) or false (restore it)") { (r, k) throws(BoardError) in try r.bool(k) }
            return .modemFault(on)
        case "wait":
            return .wait(try s.required("for", "a duration such as \"1s\"") { (r, k) throws(BoardError) in try r.duration(k) })
        case "measure":
            let name = try s.required("name", "the interval's name") { (r, k) throws(BoardError) in try r.string(k) }
            let from = try s.required("from", "a mark set by an earlier step") { (r, k) throws(BoardError) in try r.string(k) }
            let to = try s.required("to", "a mark set by an earlier step") { (r, k) throws(BoardError) in try r.string(k) }
            for (key, mark) in [("from", from), ("to", to)] where !marks.contains(mark) {
                throw s.error(key, "no earlier step sets the mark \"\(mark)\" (marks so far: \(marks.sorted().joined(separator: ", ")))")
            }
            return .measure(name: name, from: from, to: to)
        default:
            throw s.error("do", "expected one of \(kinds.joined(separator: ", ")), got \"\(kind)\"")
        }
    }

    static func condition(_ s: inout ConfigReader) throws(BoardError) -> Condition {
        var found: [Condition] = []
        func whole(_ key: String) throws(BoardError) -> Int64? {
            guard let number = try s.number(key) else { return nil }
            guard let value = Int64(exactly: number) else { throw s.error(key, "expected a whole number, got \(number)") }
            return value
        }
        if let v = try whole("equals") { found.append(.equals(v)) }
        if let v = try whole("notEquals") { found.append(.notEquals(v)) }
        if let v = try whole("atLeast") { found.append(.atLeast(v)) }
        if let v = try whole("atMost") { found.append(.atMost(v)) }
        if let v = try whole("increasedBy") { found.append(.increasedBy(v)) }
        if let v = try whole("increasedByAtLeast") { found.append(.increasedByAtLeast(v)) }
        if let values = try s.integers("in", in: Int(Int32.min)...Int(UInt32.max)) { found.append(.oneOf(values.map { Int64($0) })) }
        guard found.count == 1 else {
            throw s.error("register", "expected exactly one condition of \(Condition.keys.joined(separator: ", ")), got \(found.count)")
        }
        return found[0]
    }
}
