import AlarmCore
import ATModem
import HAL
import Logging
import ModemEmulator
import ModemTestSupport
import Synchronization
import Testing

/// Failures found in review, each pinned by a test.
@Suite struct ReviewFindingsTests {
    @Test func lostCallStateURCIsCaughtByTheBackupPoll() throws {
        let rig = try ModemRig(profile: .simcomSIM7600) { $0.announcesReady = false }
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        rig.advance(.milliseconds(400))
        #expect(rig.progress(of: id).contains(.alerting))
        rig.emulator.loseNextURC()  // the "active" +CLCC URC never arrives
        rig.advance(.seconds(4))
        #expect(rig.emulator.transcript.contains { $0.hasPrefix("!! URC lost") })
        #expect(rig.progress(of: id).contains(.connected))
    }

    @Test func simPINNeverReachesTheLogEvenWhenItsCommandTimesOut() throws {
        let logs = LogLines()
        var logger = Logger(label: "pin-test", factory: { _ in CapturingLogHandler(lines: logs) })
        logger.logLevel = .trace
        var settings = ATModemSettings()
        settings.simPIN = "4711"
        let rig = try ModemRig(configure: { $0.simPIN = "4711" }, driverSettings: settings, logger: logger)
        rig.emulator.setResponseDelay(.seconds(12))  // everything, the PIN command included, times out
        rig.line.port.open()
        rig.advance(.seconds(60), in: .milliseconds(500))
        #expect(rig.emulator.transcript.contains("→ AT+CPIN=\"4711\"") || rig.driver.phase != .ready)
        #expect(!logs.all.contains { $0.contains("4711") })
    }
}

final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { lines.append("\(event.message) \(event.metadata ?? [:])") }
}
