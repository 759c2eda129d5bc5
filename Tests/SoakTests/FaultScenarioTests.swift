import Soak
import Testing

/// The seeded fault scenarios (`make soak` runs 10,000): a few hundred here.
@Suite struct FaultScenarioTests {
    @Test func threeHundredSeedsLoseNoAlarm() throws {
        var failures: [String] = []
        var alarms = 0
        for seed in UInt64(1)...300 {
            let outcome = try FaultScenarios.run(seed: seed)
            alarms += outcome.alarms.count
            if !outcome.violations.isEmpty {
                failures.append("seed \(seed): \(outcome.violations) after \(outcome.faults) — replay: .build/debug/alarm-soak --faults 1 --seed \(seed)")
            }
        }
        #expect(alarms >= 300)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test func theInvariantsCatchABrokenWorld() throws {
        let unreachable = try FaultScenarios.run(seed: 7, sabotage: .centreUnreachable)
        #expect(unreachable.violations.contains { $0.contains("never reached the centre") })
        let unanswered = try FaultScenarios.run(seed: 7, sabotage: .nobodyAnswers)
        #expect(unanswered.violations.contains { $0.contains("no connected call") })
    }
}
