import AlarmRuntime
import FoundationEssentials
import PosixIO

/// Runs named benchmark cases and writes their figures as JSON. Benchmarks are never tests:
/// nothing here decides pass or fail. A goal's ✓/✗ is information for the reader, not an exit status.
public struct BenchmarkHarness {
    public struct Result: Codable, Sendable {
        public var name: String
        /// Where the interval starts and ends (docs/performance.md holds the full definitions).
        public var definition: String
        /// "µs" for every interval timed by `run`; "%", "wakeups/s", "MB", "ms" for footprint figures.
        public var unit: String
        public var iterations: Int
        public var median: Double
        public var p99: Double
        public var max: Double
        /// The arithmetic mean: for footprint figures over equal slices of a window, the whole window's figure.
        public var mean: Double?
        public var goal: Goal?
        public var limit: Limit?
        /// How much the firmware adds above the physical limit, when the limit has a value: the pty and loopback
        /// carry bytes without a baud rate, so the figure measured here is the firmware's (and the kernel's) share,
        /// and on the board the interval takes about limit + figure.
        public var aboveLimit: AboveLimit?
        /// What was measured and how, where the definition alone does not say (e.g. which GNSS source was warm).
        public var note: String?
    }

    /// A figure the case should reach: text for the reader and, where numeric, the bound (in the result's unit),
    /// the statistic it bounds and whether this run met it.
    public struct Goal: Codable, Sendable, Equatable {
        public enum Statistic: String, Codable, Sendable { case median, p99, max, mean }
        public var text: String
        public var value: Double?
        public var statistic: Statistic?
        public var met: Bool?

        /// The statistic must be at most `value` (in the result's unit).
        public static func atMost(_ value: Double, of statistic: Statistic = .p99, _ text: String) -> Goal {
            Goal(text: text, value: value, statistic: statistic, met: nil)
        }

        /// A goal without a number this harness can check (e.g. "beat the peer": the peer's own case says by how much).
        public static func described(_ text: String) -> Goal { Goal(text: text, value: nil, statistic: nil, met: nil) }

        func evaluated(median: Double, p99: Double, max: Double, mean: Double) -> Goal {
            guard let value, let statistic else { return self }
            var goal = self
            switch statistic {
            case .median: goal.met = median <= value
            case .p99: goal.met = p99 <= value
            case .max: goal.met = max <= value
            case .mean: goal.met = mean <= value
            }
            return goal
        }

        var short: String {
            guard let value, let statistic else { return "see note" }
            return "\(statistic.rawValue) ≤ \(BenchmarkHarness.format(value))" + (met.map { $0 ? " ✓" : " ✗" } ?? "")
        }
    }

    /// The physical limit beside a figure: the least time the same bytes need on the board's line.
    public struct Limit: Codable, Sendable, Equatable {
        public var text: String
        /// In the result's unit; nil when there is no limit we can compute here (say why in `text`).
        public var value: Double?

        public init(text: String, value: Double?) {
            self.text = text
            self.value = value
        }

        /// The wire time of `bytes` on a UART at `baud`, 8N1 (10 bits a byte), in µs.
        public static func uart(bytes: Int, baud: Int = 115_200, _ what: String) -> Limit {
            let micros = Double(bytes) * 10 / Double(baud) * 1_000_000
            return Limit(text: "\(what): \(bytes) bytes × 10 bits at \(baud) baud = \(format(micros)) µs on a UART; "
                             + "on a USB modem the wire time is negligible and the radio round trip, not measurable here, is the limit",
                         value: micros)
        }

        public static func described(_ text: String) -> Limit { Limit(text: text, value: nil) }
    }

    public struct AboveLimit: Codable, Sendable, Equatable {
        /// The median figure (µs) the firmware adds on top of the wire time.
        public var median: Double
        /// That, as a percentage of the limit: how far above the physical limit the firmware puts the interval.
        public var percentOfLimit: Double
    }

    /// A case that did not run, and why (nothing installed to run it against, a binary not built…).
    public struct Skipped: Codable, Sendable {
        public var name: String
        public var definition: String
        public var reason: String
    }

    public struct Machine: Codable, Sendable {
        public var cpuModel: String
        public var cores: Int
        public var kernel: String
        public var build: String
        public var loadAverageAtStart: String
        public var loadAverageAtEnd: String?
    }

    struct Document: Codable {
        var generatedAt: String
        var machine: Machine
        var results: [Result]
        var skipped: [Skipped]
    }

    public private(set) var results: [Result] = []
    public private(set) var skipped: [Skipped] = []
    public private(set) var machine: Machine
    let filter: String?

    public init(filter: String? = nil) {
        self.filter = filter
        machine = Machine.current()
    }

    /// Whether the filter selects `name` (so a case can skip its set-up when it will not run).
    public func wants(_ name: String) -> Bool { filter.map { name.contains($0) } ?? true }

    /// `body` returns one measured interval in nanoseconds per call; the figures are kept in µs.
    public mutating func run(_ name: String, definition: String, iterations: Int, goal: Goal? = nil, limit: Limit? = nil,
                             note: String? = nil, _ body: () throws -> Int64) rethrows {
        guard wants(name) else { return }
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        for _ in 0..<iterations { samples.append(Double(try body()) / 1000) }
        record(name, definition: definition, unit: "µs", samples: samples, goal: goal, limit: limit, note: note)
    }

    /// Figures measured some other way (footprint: %, wakeups/s, MB, ms), in `unit`.
    public mutating func record(_ name: String, definition: String, unit: String, samples: [Double], goal: Goal? = nil,
                                limit: Limit? = nil, note: String? = nil) {
        guard wants(name), !samples.isEmpty else { return }
        let sorted = samples.sorted()
        let (median, p99, max) = Self.statistics(sorted)
        let mean = sorted.reduce(0, +) / Double(sorted.count)
        var result = Result(name: name, definition: definition, unit: unit, iterations: sorted.count,
                            median: Self.rounded(median), p99: Self.rounded(p99), max: Self.rounded(max), mean: Self.rounded(mean),
                            goal: goal?.evaluated(median: median, p99: p99, max: max, mean: mean), limit: limit, aboveLimit: nil,
                            note: note)
        if let wire = limit?.value, wire > 0 {
            result.aboveLimit = AboveLimit(median: Self.rounded(median), percentOfLimit: Self.rounded(median / wire * 100))
        }
        results.append(result)
    }

    /// Sets or replaces the limit of a case already run (when the byte count is only known after it ran).
    public mutating func setLimit(_ limit: Limit, for name: String) {
        guard let index = results.lastIndex(where: { $0.name == name }) else { return }
        results[index].limit = limit
        if let wire = limit.value, wire > 0 {
            results[index].aboveLimit = AboveLimit(median: results[index].median,
                                                   percentOfLimit: Self.rounded(results[index].median / wire * 100))
        }
    }

    /// Memory figures are in MB of 2^20 bytes, as `make release` prints sizes (the kernel's "kB" are KiB).
    public static func megabytes(kibibytes: Int) -> Double { Double(kibibytes) / 1024 }
    public static func megabytes(bytes: Int) -> Double { Double(bytes) / 1_048_576 }

    public mutating func skip(_ name: String, definition: String, reason: String) {
        guard wants(name) else { return }
        skipped.append(Skipped(name: name, definition: definition, reason: reason))
    }

    /// Median (the upper middle for an even count), p99 (the sample at or below which 99 % lie) and max.
    static func statistics(_ sorted: [Double]) -> (Double, Double, Double) {
        let p99Index = Swift.max(0, Swift.min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1))
        return (sorted[sorted.count / 2], sorted[p99Index], sorted[sorted.count - 1])
    }

    /// Four significant digits, and never more than one decimal at or above 100: µs figures keep 0.1 µs,
    /// a 0.004 % CPU share keeps its digits.
    public static func rounded(_ value: Double) -> Double {
        guard value != 0, value.isFinite else { return value }
        var scale = 1.0
        var magnitude = Swift.abs(value)
        while magnitude < 1000 && scale < 1e9 {
            magnitude *= 10
            scale *= 10
        }
        if Swift.abs(value) >= 100 { scale = Swift.min(scale, 10) }
        return (value * scale).rounded() / scale
    }

    public static func format(_ value: Double) -> String {
        let rounded = rounded(value)
        if rounded == rounded.rounded(), Swift.abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return "\(rounded)"
    }

    public var table: String {
        let header = ["case", "n", "median", "p99", "max", "unit", "limit", "fw above limit", "goal"]
        var rows = [header]
        for r in results {
            let above = r.aboveLimit.map { "+\(Self.format($0.median)) (+\(Self.format($0.percentOfLimit)) %)" } ?? ""
            rows.append([r.name, "\(r.iterations)", Self.format(r.median), Self.format(r.p99), Self.format(r.max), r.unit,
                         r.limit?.value.map(Self.format) ?? (r.limit == nil ? "" : "n/a"), above, r.goal?.short ?? ""])
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = Swift.max(widths[i], cell.count) } }
        let rightAligned: Set<Int> = [1, 2, 3, 4, 6]
        var lines = rows.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
        lines.insert(String(repeating: "-", count: lines[0].count), at: 1)
        for r in results {
            if let limit = r.limit { lines.append("  \(r.name) limit: \(limit.text)") }
            if let goal = r.goal { lines.append("  \(r.name) goal: \(goal.text)") }
            if let note = r.note { lines.append("  \(r.name): \(note)") }
        }
        for s in skipped { lines.append("  \(s.name): skipped, \(s.reason)") }
        lines.append("machine: \(machine.cpuModel), \(machine.cores) cores, \(machine.kernel), \(machine.build) build, "
                     + "load average \(machine.loadAverageAtStart) at start")
        return lines.joined(separator: "\n")
    }

    public func write(to path: String) throws {
        var machine = self.machine
        machine.loadAverageAtEnd = Machine.loadAverage()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let document = Document(generatedAt: UTCTimestamp.format(SystemTime.wallMilliseconds()), machine: machine,
                                results: results, skipped: skipped)
        let data = try encoder.encode(document)
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        let directory = components.count > 1 ? components.dropLast().joined(separator: "/") : "."
        try StorageDirectory(path: directory.isEmpty ? "/" : directory)
            .replaceAtomically(String(components.last ?? "results.json"), with: Array(data) + [0x0A])
    }
}

extension String {
    /// Pads with spaces on the right to `width` (bench tables).
    public func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
