import FoundationEssentials
import PosixIO

/// Runs named benchmark cases and writes their figures as JSON. Benchmarks are never tests:
/// nothing here decides pass or fail.
public struct BenchmarkHarness {
    public struct Result: Codable, Sendable {
        public var name: String
        /// Where the interval starts and ends (docs/performance.md holds the full definitions).
        public var definition: String
        public var unit: String
        public var iterations: Int
        public var median: Double
        public var p99: Double
        public var max: Double
    }

    struct Document: Codable {
        var generatedAt: String
        var results: [Result]
    }

    public private(set) var results: [Result] = []
    let filter: String?

    public init(filter: String? = nil) { self.filter = filter }

    /// `body` returns one measured interval in nanoseconds per call.
    public mutating func run(_ name: String, definition: String, iterations: Int, _ body: () throws -> Int64) rethrows {
        if let filter, !name.contains(filter) { return }
        var samples: [Int64] = []
        samples.reserveCapacity(iterations)
        for _ in 0..<iterations { samples.append(try body()) }
        samples.sort()
        func micro(_ ns: Int64) -> Double { (Double(ns) / 1000 * 10).rounded() / 10 }
        let p99Index = min(samples.count - 1, Int((Double(samples.count) * 0.99).rounded(.up)) - 1)
        results.append(Result(name: name, definition: definition, unit: "µs", iterations: iterations,
                              median: micro(samples[samples.count / 2]), p99: micro(samples[max(p99Index, 0)]),
                              max: micro(samples.last ?? 0)))
    }

    public var table: String {
        var lines = ["case                                   median µs      p99 µs      max µs   n"]
        for r in results {
            func col(_ v: Double) -> String { let s = "\(v)"; return String(repeating: " ", count: max(0, 12 - s.count)) + s }
            lines.append(r.name.padding(36) + col(r.median) + col(r.p99) + col(r.max) + "   \(r.iterations)")
        }
        return lines.joined(separator: "\n")
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(Document(generatedAt: UTCTimestamp.format(SystemTime.wallMilliseconds()), results: results))
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        let directory = components.count > 1 ? components.dropLast().joined(separator: "/") : "."
        try StorageDirectory(path: directory.isEmpty ? "/" : directory)
            .replaceAtomically(String(components.last ?? "results.json"), with: Array(data) + [0x0A])
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
