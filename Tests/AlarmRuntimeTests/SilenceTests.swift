import AlarmCore
import AlarmRuntime
import HAL
import SimBackends
import Testing

@Suite struct SilenceTests {
    @Test func amplifierLineHeldOffFromStartAndThroughTheAlarm() throws {
        let line = SimOutputLine()
        let s = Scenario(silence: .amplifierOff, amplifier: line)
        #expect(line.isActive == nil)
        try s.start()
        #expect(line.isActive == false)
        s.advance(.seconds(1))
        s.pressAndHold()
        s.advance(.seconds(5))
        #expect(s.runtime.status.call?.connected == true)
        #expect(line.isActive == false)
    }

    @Test func refusesToRunWithoutTheLineItNeeds() {
        let s = Scenario(silence: .amplifierOff, amplifier: nil)
        #expect(throws: HALError.self) { try s.start() }
    }

    @Test func incomingCentreCallIsAnsweredSilentlyAndNothingIsPlayed() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        s.pressAndHold()
        s.advance(.seconds(3))
        s.modem.centreHangsUp()
        s.modem.ring(from: Scenario.centre[0])
        s.advance(.seconds(1))
        // Only the two haptic patterns, never anything audible or visible.
        #expect(s.vibrator.played == [s.haptics.alarmRaised, s.haptics.delivered])
    }
}
