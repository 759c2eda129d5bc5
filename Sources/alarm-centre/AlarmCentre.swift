import AlarmCodecs
import AlarmCore
import ArgumentParser
import Dispatch
import Glibc
import SimCentre

/// The simulated receiving centre for `make sim` and manual experiments.
@main
struct AlarmCentre: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm-centre",
        abstract: "Simulated receiving centre: receives reports over TCP, acknowledges and shows them.")

    @Option(help: "TCP port to listen on (127.0.0.1).") var port: UInt16 = 7510
    @Option(help: "End the alarm after this many position updates.") var endAfterUpdates: Int?
    @Option(help: "Answer the first N frames with NAK.") var rejectFirst = 0
    @Option(help: "Leave the first N frames unanswered.") var ignoreFirst = 0

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var policy = SimulatedCentre.Policy()
        policy.endAfterUpdates = endAfterUpdates
        policy.rejectFirst = rejectFirst
        policy.ignoreFirst = ignoreFirst
        let ending = endAfterUpdates
        let centre = try SimulatedCentre(port: port, policy: policy) { received in
            let r = received.frame.report
            var line = "centre: \(received.frame.deviceID) report #\(r.sequence) \(r.kind.rawValue)"
            if let fix = r.position {
                let accuracy = fix.horizontalAccuracy.isFinite ? "±\(Int(min(fix.horizontalAccuracy, 1e6))) m" : "±? m"
                line += " at \(fix.latitude), \(fix.longitude) \(accuracy) (\(fix.source.rawValue))"
            } else if let cell = r.cell {
                line += " cell \(cell.mcc)-\(cell.mnc) \(cell.areaCode)/\(cell.cellID)"
            } else {
                line += " without position"
            }
            line += received.duplicate ? " [duplicate] → \(received.answer)" : " → \(received.answer)"
            print(line)
            fflush(nil)
        }
        centre.start()
        print("centre: listening on 127.0.0.1:\(centre.port)" + (ending.map { ", ends alarms after \($0) updates" } ?? ""))
        fflush(nil)
        let stop = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
        for (source, number) in [(stop, SIGTERM), (interrupt, SIGINT)] {
            signal(number, SIG_IGN)
            source.setEventHandler {
                centre.stop()
                Glibc.exit(0)
            }
            source.resume()
        }
        withExtendedLifetime([stop, interrupt]) { dispatchMain() }
    }
}
