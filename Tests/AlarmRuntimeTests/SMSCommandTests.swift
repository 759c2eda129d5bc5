import ATModem
import AlarmCore
import AlarmRuntime
import CentreSMS
import Logging
import ModemEmulator
import ModemTestSupport
import SimBackends
import Testing

/// Centre commands by SMS, end to end: the emulated network delivers the SMS, the AT driver reads it over the pty,
/// the gate verifies it, the core acts.
@Suite struct SMSCommandTests {
    let key = try! SMSKey(text: String(repeating: "5A", count: 32))

    func device(store: InMemoryRecordStore = InMemoryRecordStore()) throws -> (EmulatedDevice, SMSCommandGate) {
        let d = try EmulatedDevice()
        let runtime = d.runtime
        let gate = SMSCommandGate(deviceID: "BE-EMU-1", key: key, centreNumbers: ["+3292000101", "+3292000102"], store: store,
                                  logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })) {
            runtime.post(.centre($0))
        }
        d.driver.onIncomingSMS { gate.received(from: $0, text: $1) }
        return (d, gate)
    }

    func raiseAlarm(_ d: EmulatedDevice) {
        d.button.press(holding: .milliseconds(2500))
        d.advance(.seconds(6))
    }

    @Test func authenticCommandFromTheCentreEndsTheAlarm() throws {
        let (d, _) = try device()
        try d.start()
        raiseAlarm(d)
        #expect(d.runtime.status.mode == "alarm")
        d.emulator.deliverSMS(from: "+3292000101", text: SMSCommand(deviceID: "BE-EMU-1", counter: 1, verb: .endAlarm, argument: 1).text(key: key))
        #expect(d.waitFor { d.runtime.status.mode == "after-alarm" })
        #expect(d.waitFor { d.emulator.storedSMSCount == 0 })
    }

    @Test(arguments: ["wrong number", "bad MAC", "replayed", "other alarm", "not a command"])
    func forgedOrStaleCommandsDoNothing(attack: String) throws {
        let store = InMemoryRecordStore()
        let (d, gate) = try device(store: store)
        try d.start()
        raiseAlarm(d)
        // A first, valid command (position now) sets the counter to 5.
        gate.received(from: "+3292000101", text: SMSCommand(deviceID: "BE-EMU-1", counter: 5, verb: .position).text(key: key))
        let end = SMSCommand(deviceID: "BE-EMU-1", counter: 6, verb: .endAlarm, argument: 1)
        let (sender, text): (String, String) = switch attack {
        case "wrong number": ("+32470666666", end.text(key: key))
        case "bad MAC": ("+3292000101", end.text(key: try SMSKey(text: String(repeating: "00", count: 32))))
        case "replayed": ("+3292000101", SMSCommand(deviceID: "BE-EMU-1", counter: 5, verb: .endAlarm, argument: 1).text(key: key))
        case "other alarm": ("+3292000101", SMSCommand(deviceID: "BE-EMU-1", counter: 7, verb: .endAlarm, argument: 9).text(key: key))
        default: ("+3292000101", "STOP")
        }
        d.emulator.deliverSMS(from: sender, text: text)
        #expect(d.waitFor { d.emulator.storedSMSCount == 0 })
        d.advance(.seconds(1))
        #expect(d.runtime.status.mode == "alarm", "\(attack) must not end the alarm")
    }

    @Test func theCounterSurvivesARestart() throws {
        let store = InMemoryRecordStore()
        let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
        let posted = Collector<CentreCommand>()
        let first = SMSCommandGate(deviceID: "BE-EMU-1", key: key, centreNumbers: ["+3292000101"], store: store, logger: logger) { posted.append($0) }
        let command = SMSCommand(deviceID: "BE-EMU-1", counter: 42, verb: .selfTest).text(key: key)
        first.received(from: "+3292000101", text: command)
        #expect(posted.all == [CentreCommand(.selfTest)])
        let restarted = SMSCommandGate(deviceID: "BE-EMU-1", key: key, centreNumbers: ["+3292000101"], store: store, logger: logger) { posted.append($0) }
        restarted.received(from: "+3292000101", text: command)
        #expect(posted.all.count == 1, "the same SMS after a restart does nothing")
    }
}
