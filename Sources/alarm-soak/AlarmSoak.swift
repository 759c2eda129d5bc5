import ArgumentParser
import Glibc
import PosixIO
import Soak

/// `make soak`: the kill soak at full length (the seeded short version runs in `make test`).
@main
struct AlarmSoak: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alarm-soak",
                                                    abstract: "Kill the daemon at random moments during alarms and check that no alarm is lost or doubled.")

    @Option(help: "Seed (a failing run prints its seed: pass it here to replay).") var seed: UInt64 = UInt64(time(nil))
    @Option(help: "How many SIGKILLs.") var kills = 1000
    @Option(help: "Working directory (board, storage, logs, the emulator's link and AT transcript).") var work = ".soak"
    @Option(help: "fixed: the network refuses to switch call waiting off (the aggressor's calls reach the device); switchable: the driver switches it off (the network turns the aggressor away). Default: the seed picks.")
    var callWaiting: String?
    @Option(help: "Run this many in-process fault scenarios (seeds from --seed on) instead of the kill soak.") var faults: Int?

    func validate() throws {
        if let callWaiting, callWaiting != "fixed", callWaiting != "switchable" {
            throw ValidationError("--call-waiting must be fixed or switchable")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        if let faults {
            var failed: [FaultScenarios.Outcome] = []
            var alarms = 0
            for offset in 0..<UInt64(faults) {
                let outcome = try FaultScenarios.run(seed: seed &+ offset)
                alarms += outcome.alarms.count
                if !outcome.violations.isEmpty {
                    failed.append(outcome)
                    print("seed \(outcome.seed): \(outcome.violations.joined(separator: "; ")) after \(outcome.faults.joined(separator: ", "))")
                }
            }
            print("\(faults) fault scenarios from seed \(seed): \(alarms) alarms, \(failed.count) with violations")
            if let first = failed.first {
                print("replay: .build/debug/alarm-soak --faults 1 --seed \(first.seed)")
                throw ExitCode(1)
            }
            return
        }
        let bin = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        _ = try StorageDirectory(path: work)
        let soak = KillSoak(.init(seed: seed, kills: kills, daemon: bin + "/alarmd-sim", emulator: bin + "/modem-emulator", workDirectory: work,
                                  callWaitingFixed: callWaiting.map { $0 == "fixed" }))
        let outcome = try soak.run()
        print(outcome.summary)
        for line in outcome.violations { print("  \(line)") }
        if !outcome.violations.isEmpty {
            print("replay: .build/debug/alarm-soak --seed \(seed) --kills \(kills) --call-waiting \(outcome.callWaitingFixed ? "fixed" : "switchable")")
            throw ExitCode(1)
        }
    }
}
