import Glibc
import PosixIO
import Testing

@testable import BenchHarness

@Suite struct BenchmarkHarnessTests {
    @Test func statisticsOverAThousandSamples() {
        let (median, p99, max) = BenchmarkHarness.statistics((1...1000).map(Double.init))
        #expect(median == 501)
        #expect(p99 == 990)
        #expect(max == 1000)
        // One sample: all three are that sample.
        #expect(BenchmarkHarness.statistics([7]) == (7, 7, 7))
    }

    @Test func intervalsAreKeptInMicrosecondsAndGoalsAreChecked() {
        var harness = BenchmarkHarness()
        var next: Int64 = 0
        harness.run("case.met", definition: "d", iterations: 100, goal: .atMost(100, of: .p99, "p99 ≤ 100 µs")) {
            next += 1000
            return next  // 1…100 µs
        }
        harness.run("case.missed", definition: "d", iterations: 10, goal: .atMost(5, of: .median, "median ≤ 5 µs")) { 10_000 }
        #expect(harness.results[0].unit == "µs")
        #expect(harness.results[0].p99 == 99)
        #expect(harness.results[0].goal?.met == true)
        #expect(harness.results[1].goal?.met == false)
        #expect(harness.table.contains("p99 ≤ 99") == false)
        #expect(harness.table.contains("p99 ≤ 100 ✓"))
        #expect(harness.table.contains("median ≤ 5 ✗"))
    }

    @Test func aUARTLimitIsTheWireTimeOfTheBytesAndTheFirmwareIsShownAboveIt() {
        let limit = BenchmarkHarness.Limit.uart(bytes: 18, "ATD line")
        #expect(limit.value == 1562.5)
        var harness = BenchmarkHarness()
        harness.run("dial", definition: "d", iterations: 3, limit: limit) { 156_250 }
        #expect(harness.results[0].aboveLimit == .init(median: 156.3, percentOfLimit: 10))
        // A limit learned after the run (the byte count) is attached the same way.
        harness.run("frame", definition: "d", iterations: 1) { 1_000_000 }
        harness.setLimit(.uart(bytes: 1152, "frame"), for: "frame")
        #expect(harness.results[1].limit?.value == 100_000)
        #expect(harness.results[1].aboveLimit?.percentOfLimit == 1)
    }

    @Test func footprintFiguresKeepTheirUnitAndSmallValuesKeepTheirDigits() {
        var harness = BenchmarkHarness()
        harness.record("cpu", definition: "d", unit: "%", samples: [0.004321], goal: .atMost(0.01, of: .median, "≤ 0.01 %"))
        harness.record("rss", definition: "d", unit: "MB", samples: [12.345678], goal: .atMost(10, of: .max, "≤ 10 MB"))
        #expect(harness.results[0].median == 0.004321)
        #expect(harness.results[0].goal?.met == true)
        #expect(harness.results[1].median == 12.35)
        #expect(harness.results[1].goal?.met == false)
    }

    @Test func theFilterSelectsCasesAndSkippedCasesSayWhy() {
        var harness = BenchmarkHarness(filter: "foot")
        var ran = false
        harness.run("modem.dial", definition: "d", iterations: 1) { ran = true; return 1 }
        harness.skip("footprint.binary-size", definition: "d", reason: "run make release")
        harness.skip("modem.other", definition: "d", reason: "not selected")
        #expect(!ran)
        #expect(harness.results.isEmpty)
        #expect(harness.skipped.map(\.name) == ["footprint.binary-size"])
        #expect(harness.table.contains("footprint.binary-size: skipped, run make release"))
    }

    @Test func theJSONCarriesGoalsLimitsAndTheMachine() throws {
        var harness = BenchmarkHarness()
        harness.run("dial", definition: "d", iterations: 2, goal: .atMost(1000, "p99 ≤ 1 ms"), limit: .uart(bytes: 16, "ATD")) { 50_000 }
        let path = "/tmp/bench-harness-test-\(getpid()).json"
        try harness.write(to: path)
        defer { unlink(path) }
        let text = String(decoding: try #require(try StorageDirectory.readFile(path)), as: UTF8.self)
        for key in ["\"machine\"", "\"cpuModel\"", "\"cores\"", "\"kernel\"", "\"build\"", "\"goal\"", "\"met\" : true",
                    "\"limit\"", "\"aboveLimit\"", "\"unit\" : \"µs\"", "\"generatedAt\""] {
            #expect(text.contains(key), "missing \(key)")
        }
        #expect(harness.machine.cores >= 1)
        #expect(harness.machine.kernel.hasPrefix("Linux"))
    }
}
