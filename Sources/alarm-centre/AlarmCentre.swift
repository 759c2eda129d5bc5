import AlarmCodecs
import AlarmCore
import ArgumentParser
import DC09
import Dispatch
import Glibc
import PosixIO
import SimCentre

/// The simulated receiving centre for `make sim` and manual experiments.
@main
struct AlarmCentre: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm-centre",
        abstract: "Simulated receiving centre: receives reports (SIA DC-09 over TCP and UDP, or the interim framing), acknowledges and shows them as a dispatcher reads them.")

    @Option(help: "Port to listen on (127.0.0.1; DC-09 listens on TCP and UDP).") var port: UInt16 = 7510
    @Flag(help: "Receive SIA DC-09 (otherwise the interim line framing).") var dc09 = false
    @Option(help: "DC-09 account (hex).") var account = "5A1"
    @Option(help: "DC-09 key file (the device's key); without it the account sends in clear.") var keyFile: String?
    @Option(help: "Key encoding: ascii-hex or binary-hex.") var keyEncoding = "ascii-hex"
    @Option(help: "Interim framing: end the alarm after this many position updates.") var endAfterUpdates: Int?
    @Option(help: "Interim framing: answer the first N frames with NAK.") var rejectFirst = 0
    @Option(help: "Leave the first N frames unanswered (the receiver looks down).") var ignoreFirst = 0

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let stopper: @Sendable () -> Void
        if dc09 {
            stopper = try runDC09()
        } else {
            stopper = try runInterim()
        }
        let stop = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
        for (source, number) in [(stop, SIGTERM), (interrupt, SIGINT)] {
            signal(number, SIG_IGN)
            source.setEventHandler {
                stopper()
                Glibc.exit(0)
            }
            source.resume()
        }
        withExtendedLifetime([stop, interrupt]) { dispatchMain() }
    }

    func runDC09() throws -> @Sendable () -> Void {
        var key: DC09Key?
        if let keyFile {
            let bytes = try SecretFile.read(keyFile, limit: 256)
            key = try DC09Key(text: String(decoding: bytes, as: UTF8.self),
                              encoding: keyEncoding == "binary-hex" ? .binaryHex : .asciiHex)
        }
        var policy = DC09Receiver.Policy()
        policy.ignoreFirst = ignoreFirst
        let receiver = try DC09Receiver(tcpPort: port, udpPort: port, accounts: [account: key], policy: policy) { r in
            print("centre: " + Self.dispatcherLine(r))
            fflush(nil)
        }
        receiver.start()
        print("centre: DC-09 receiver on 127.0.0.1:\(receiver.tcpPort) (TCP and UDP), account \(account), "
              + (key == nil ? "in clear" : "AES-\(key!.bits)") + (ignoreFirst > 0 ? ", first \(ignoreFirst) frame(s) unanswered" : ""))
        fflush(nil)
        return { receiver.stop() }
    }

    /// What a dispatcher needs at a glance: who, what, where (with accuracy and age), over which link.
    static func dispatcherLine(_ r: DC09Receiver.Received) -> String {
        let events = ["HA": "SILENT ALARM", "HS": "position update", "OC": "wearer cancel gesture", "HH": "alarm over",
                      "QA": "emergency number dialled", "RP": "periodic test", "YT": "battery low", "YR": "battery restored",
                      "YM": "BATTERY CRITICAL", "NULL": "link check"]
        var line = "\(r.detail["dev"] ?? r.account) #\(r.sequence) \(events[r.code] ?? r.code)"
        if let alarm = r.detail["alarm"], r.code != "NULL" { line += " (alarm \(alarm))" }
        if let lat = r.latitude, let lon = r.longitude {
            line += " at \(lat), \(lon)"
            if let radius = r.detail["rd"] { line += " ±\(radius) m" }
            if let age = r.detail["age"] { line += ", \(age) s old" }
            if let source = r.detail["src"] { line += " (\(["G": "GNSS", "L": "last known", "C": "cell"][source] ?? source))" }
        } else if let cell = r.detail["cell"] {
            line += " cell \(cell)"
        }
        line += " via \(r.messageType) \(r.transport)\(r.encrypted ? " AES" : " CLEAR")"
        line += r.duplicate ? " [duplicate] → \(r.answer)" : " → \(r.answer)"
        return line
    }

    func runInterim() throws -> @Sendable () -> Void {
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
        return { centre.stop() }
    }
}
