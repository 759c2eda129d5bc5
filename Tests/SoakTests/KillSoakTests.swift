import Glibc
import PosixIO
import Soak
import Testing

/// The kill soak, seeded and short (`make soak` runs 1,000 kills): the real alarmd, SIGKILLed at random moments.
@Suite struct KillSoakTests {
    @Test func thirtyKillsLoseAndDoubleNoAlarm() throws {
        let bin = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/"))
        let daemon = bin + "/alarmd"
        try #require(access(daemon, X_OK) == 0, "alarmd is built beside the tests (swift build --build-tests)")
        let work = "/tmp/alarm-kill-soak-\(getpid())"
        let outcome = try KillSoak(.init(seed: 20_261_129, kills: 30, daemon: daemon, workDirectory: work)).run()
        #expect(outcome.kills == 30)
        #expect(outcome.violations.isEmpty, "\(outcome.summary)\nreplay: .build/debug/alarm-soak --seed 20261129 --kills 30")
        #expect(!outcome.alarmsRaised.isEmpty)
        #expect(Set(outcome.alarmsRaised) == Set(outcome.alarmsAtCentre))
    }
}
