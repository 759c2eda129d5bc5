import AlarmCore
import AlarmRuntime
import HAL
import SimBackends
import Testing

/// The simulated button's device vanishing and returning, through the real runtime and core to the (simulated)
/// report link, the timeline and status.
@Suite struct ButtonSupervisionScenarioTests {
    func started() throws -> Scenario {
        let s = Scenario(settings: { $0.periodicTestInterval = nil })
        try s.start()
        s.advance(.seconds(5))  // registered, link up
        return s
    }

    func received(_ s: Scenario, _ kind: ReportKind) -> [Report] { s.link.received.filter { $0.kind == kind } }

    @Test func aButtonLostBeyondTheGraceReachesTheCentreAsTroubleAndItsReturnAsRestore() throws {
        let s = try started()
        #expect(s.runtime.status.button == "ok")

        s.button.loseDevice()
        #expect(s.texts(.device).contains("button device lost (simulated: device removed); reopening"))
        s.advance(.milliseconds(4900))
        #expect(received(s, .buttonTrouble).isEmpty, "not within the grace")
        s.advance(.milliseconds(100))
        #expect(received(s, .buttonTrouble).count == 1)
        #expect(s.texts(.report).contains { $0.contains("button-trouble") })
        let status = s.runtime.status
        #expect(status.button?.hasPrefix("lost for 5.0 s, trouble reported to the centre") == true, "\(status.button ?? "nil")")
        #expect(StatusText.render(status).contains("button          lost for 5.0 s"))

        s.advance(.seconds(30))
        s.button.restoreDevice()
        #expect(received(s, .buttonRestored).count == 1)
        #expect(s.texts(.device).contains("button device reopened"))
        #expect(s.runtime.status.button == "ok (reopened)")
        s.advance(.seconds(60))
        #expect(s.link.received.filter { $0.kind == .buttonTrouble || $0.kind == .buttonRestored }.map(\.kind)
            == [.buttonTrouble, .buttonRestored], "each once")
    }

    @Test func aButtonBackWithinTheGraceReportsNothing() throws {
        let s = try started()
        s.button.loseDevice()
        s.advance(.seconds(2))
        s.button.restoreDevice()
        // The reopen happened (the timeline says so) …
        #expect(s.texts(.device).suffix(2) == ["button device lost (simulated: device removed); reopening", "button device reopened"])
        s.advance(.seconds(120))
        // … and nothing went to the centre about it.
        #expect(received(s, .buttonTrouble).isEmpty && received(s, .buttonRestored).isEmpty)
        #expect(s.runtime.status.button == "ok (reopened)")
    }

    @Test func aPressHeldAcrossTheOutageRaisesTheAlarm() throws {
        let s = try started()
        s.button.press()
        s.advance(.milliseconds(500))
        s.button.loseDevice()
        s.advance(.milliseconds(500))
        s.button.restoreDevice()
        s.advance(.seconds(1))
        #expect(s.texts(.trigger) == ["ALARM #1 raised"])
        #expect(received(s, .alarm).count == 1)
    }

    @Test func aReleaseMadeDuringTheOutageDoesNotSwallowTheNextPress() throws {
        let s = try started()
        s.button.press()
        s.advance(.milliseconds(300))
        s.button.loseDevice()
        s.button.release()  // nobody can read it now
        s.advance(.milliseconds(500))
        s.button.restoreDevice()
        #expect(s.texts(.button) == ["button pressed", "button released"], "the release read back at the reopen")
        s.advance(.seconds(5))
        #expect(s.texts(.trigger).isEmpty, "a 0.8 s press")
        s.pressAndHold()
        #expect(s.texts(.trigger) == ["ALARM #1 raised"])
    }

    @Test func theTestReportSaysWhetherTheButtonWorks() throws {
        let s = try started()
        s.link.sendCommand(CentreCommand(.selfTest))
        s.button.loseDevice()
        s.link.sendCommand(CentreCommand(.selfTest))
        #expect(received(s, .periodicTest).map(\.button) == [.available, .lost])
    }

    @Test func anEndForAnEarlierAlarmIsOneRecordSayingItWasIgnored() throws {
        let s = try started()
        s.pressAndHold()
        s.link.sendCommand(.endAlarm(1))
        s.advance(.seconds(2))
        s.pressAndHold()
        #expect(s.runtime.status.alarmNumber == 2)
        s.link.sendCommand(.endAlarm(1))
        #expect(s.texts(.command) == ["centre command end-alarm for alarm #1: acted on",
                                      "centre command end-alarm for alarm #1 ignored: alarm #1 is not the active alarm (#2)"])
        #expect(s.runtime.status.mode == "alarm")
    }
}
