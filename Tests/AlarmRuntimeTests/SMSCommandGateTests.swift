import AlarmCodecs
import AlarmCore
import AlarmRuntime
import CentreSMS
import HAL
import Logging
import SimBackends
import Synchronization
import Testing

/// The SMS command gate on its own and on the simulated world: every SMS has exactly one outcome, a command the core
/// handled (and announced) or a refusal with its reason, each one timeline record.
@Suite struct SMSCommandGateTests {
    static let key = try! SMSKey(text: String(repeating: "5A", count: 32))
    static let centre = "+3292000101"
    static let device = "BE-TEST-1"

    /// A store that can be told to fail its writes (a full or failing card).
    final class FlakyStore: RecordStore {
        let inner = InMemoryRecordStore()
        let failing = Mutex(false)

        func load(_ name: String) throws(HALError) -> [UInt8]? { try inner.load(name) }

        func save(_ name: String, _ bytes: [UInt8]) throws(HALError) {
            if failing.withLock({ $0 }) { throw HALError(.io, "no space left on device") }
            try inner.save(name, bytes)
        }
    }

    final class Outcomes: Sendable {
        let posted = Mutex<[CentreCommand]>([])
        let refused = Mutex<[String]>([])
    }

    func gate(_ outcomes: Outcomes, store: any RecordStore = InMemoryRecordStore()) -> SMSCommandGate {
        SMSCommandGate(deviceID: Self.device, key: Self.key, centreNumbers: [Self.centre], store: store,
                       logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
                       refused: { reason in outcomes.refused.withLock { $0.append(reason) } },
                       post: { command in outcomes.posted.withLock { $0.append(command) } })
    }

    func signed(_ counter: UInt64, _ verb: SMSCommand.Verb, _ argument: Int? = nil) -> String {
        SMSCommand(deviceID: Self.device, counter: counter, verb: verb, argument: argument).text(key: Self.key)
    }

    @Test func aTruncatedOrEmptyMACIsRefusedByTheCheckItself() throws {
        var parsed = try SMSCommandText.parse(signed(3, .endAlarm, 1))
        // The whole MAC passes; its first 8 bytes (or none) must not, even though every byte compared matches.
        #expect(try SMSCommand.verify(parsed, deviceID: Self.device, key: Self.key, lastCounter: 0).counter == 3)
        for length in [8, 0] {
            parsed.mac = Array(parsed.mac.prefix(length))
            #expect(throws: SMSCommand.Rejection.badMAC) {
                try SMSCommand.verify(parsed, deviceID: Self.device, key: Self.key, lastCounter: 0)
            }
        }
    }

    @Test func aValidlySignedBareEndIsRefused() {
        let outcomes = Outcomes()
        let gate = gate(outcomes)
        gate.received(from: Self.centre, text: signed(1, .endAlarm))
        #expect(outcomes.posted.withLock { $0 }.isEmpty)
        #expect(outcomes.refused.withLock { $0 } == ["END without an alarm number"])
        // The gate works: the same command with its alarm goes through.
        gate.received(from: Self.centre, text: signed(2, .endAlarm, 1))
        #expect(outcomes.posted.withLock { $0 } == [.endAlarm(1)])
    }

    @Test func aCommandWhoseCounterCannotBeStoredIsRefusedAndCanCountLater() {
        let outcomes = Outcomes()
        let store = FlakyStore()
        let gate = gate(outcomes, store: store)
        store.failing.withLock { $0 = true }
        gate.received(from: Self.centre, text: signed(7, .selfTest))
        #expect(outcomes.posted.withLock { $0 }.isEmpty, "not acted on")
        #expect(outcomes.refused.withLock { $0 }
            == ["the command counter could not be stored (io: no space left on device); not acted on"])
        // Storage back: the centre's resend counts (the counter was not taken up by the refused one).
        store.failing.withLock { $0 = false }
        gate.received(from: Self.centre, text: signed(7, .selfTest))
        #expect(outcomes.posted.withLock { $0 } == [CentreCommand(.selfTest)])
    }

    @Test(arguments: ["wrong sender", "bad MAC", "replayed", "malformed", "not a command", "other device"])
    func everyRefusalIsOneReasonAndNoCommand(attack: String) throws {
        let outcomes = Outcomes()
        let gate = gate(outcomes)
        gate.received(from: Self.centre, text: signed(5, .position))
        #expect(outcomes.posted.withLock { $0 } == [CentreCommand(.positionNow)], "a first, valid command sets the counter to 5")
        let (sender, text, reason): (String, String, String) = switch attack {
        case "wrong sender": ("+32470666666", signed(6, .endAlarm, 1), "SMS from +32470666666, not a centre number")
        case "bad MAC": (Self.centre, SMSCommand(deviceID: Self.device, counter: 6, verb: .endAlarm, argument: 1)
            .text(key: try SMSKey(text: String(repeating: "00", count: 32))), "command not authentic (bad MAC)")
        case "replayed": (Self.centre, signed(5, .endAlarm, 1), "replayed or stale command (counter 5, last accepted 5)")
        case "malformed": (Self.centre, "ALC1 \(Self.device) 6 END 1", "malformed command")
        case "other device": (Self.centre, SMSCommand(deviceID: "BE-OTHER", counter: 6, verb: .endAlarm, argument: 1).text(key: Self.key),
                              "command for another device")
        default: (Self.centre, "STOP", "not a centre command")
        }
        gate.received(from: sender, text: text)
        #expect(outcomes.posted.withLock { $0 }.count == 1)
        #expect(outcomes.refused.withLock { $0 } == [reason])
    }

    // MARK: on the timeline

    func scenario() throws -> (Scenario, SMSCommandGate) {
        let s = Scenario(settings: { $0.periodicTestInterval = nil })
        let runtime = s.runtime
        let gate = SMSCommandGate(deviceID: Self.device, key: Self.key, centreNumbers: [Self.centre], store: s.store,
                                  logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
                                  refused: { runtime.centreCommandRefused($0) }) { runtime.post(.centre($0)) }
        try s.start()
        s.advance(.seconds(5))
        return (s, gate)
    }

    @Test func everyCommandIsExactlyOneTimelineRecord() throws {
        let (s, gate) = try scenario()
        s.pressAndHold()
        gate.received(from: Self.centre, text: signed(1, .endAlarm, 1))
        s.advance(.seconds(2))
        s.pressAndHold()
        #expect(s.runtime.status.alarmNumber == 2)
        gate.received(from: Self.centre, text: signed(2, .endAlarm, 1))
        gate.received(from: Self.centre, text: signed(3, .endAlarm))
        gate.received(from: Self.centre, text: signed(2, .endAlarm, 2))  // counter 2 was taken by the ignored END 1
        gate.received(from: "+32470666666", text: signed(4, .endAlarm, 2))
        #expect(s.runtime.status.mode == "alarm", "none of these ended alarm #2")
        gate.received(from: Self.centre, text: signed(5, .endAlarm, 2))
        #expect(s.runtime.status.mode == "after-alarm")
        #expect(s.texts(.command) == [
            "centre command end-alarm for alarm #1: acted on",
            "centre command end-alarm for alarm #1 ignored: alarm #1 is not the active alarm (#2)",
            "centre command refused: END without an alarm number",
            "centre command refused: replayed or stale command (counter 2, last accepted 2)",
            "centre command refused: SMS from +32470666666, not a centre number",
            "centre command end-alarm for alarm #2: acted on",
        ])
    }
}
