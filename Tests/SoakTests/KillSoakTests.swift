import Glibc
import PosixIO
import Soak
import Testing

/// The kill soak, seeded and short (`make soak` runs 1,000 kills): the real alarmd, SIGKILLed at chosen moments,
/// restarted against the same modem-emulator process, which keeps the centre's call meanwhile.
@Suite(.serialized) struct KillSoakTests {
    static let bin = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast()
        .joined(separator: "/"))

    func soak(seed: UInt64, kills: Int, callWaitingFixed: Bool) throws {
        let daemon = Self.bin + "/alarmd-sim"
        try #require(access(daemon, X_OK) == 0, "alarmd is built beside the tests (swift build --build-tests)")
        try #require(access(Self.bin + "/modem-emulator", X_OK) == 0, "modem-emulator is built beside the tests")
        let work = "/tmp/alarm-kill-soak-\(getpid())-\(seed)"
        let outcome = try KillSoak(.init(seed: seed, kills: kills, daemon: daemon, workDirectory: work,
                                         callWaitingFixed: callWaitingFixed)).run()
        print(outcome.summary)
        #expect(outcome.kills == kills)
        #expect(outcome.violations.isEmpty, """
            \(outcome.summary)
            replay: .build/debug/alarm-soak --seed \(seed) --kills \(kills) --call-waiting \(callWaitingFixed ? "fixed" : "switchable")
            """)
        #expect(!outcome.alarmsRaised.isEmpty)
        #expect(Set(outcome.alarmsRaised) == Set(outcome.alarmsAtCentre))
        #expect(outcome.killsWhileConnected * 3 >= outcome.kills)
        #expect(outcome.aggressorCallsWaiting + outcome.aggressorCallsTurnedAway > 0, "the aggressor never called: \(outcome.summary)")
    }

    /// The network lets the driver switch call waiting off: the aggressor is turned away by the network.
    @Test func killsWhileDiallingAlertingConnectedLoseNothingAndKeepTheCentreCall() throws {
        try soak(seed: 20_261_129, kills: 6, callWaitingFixed: false)
    }

    /// The network refuses to switch call waiting off: the aggressor's calls reach the device while the centre listens.
    @Test func waitingAggressorCallsNeverEndTheAdoptedCentreCall() throws {
        try soak(seed: 20_261_207, kills: 6, callWaitingFixed: true)
    }
}
