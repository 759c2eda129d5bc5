@testable import BoardIO
import AlarmCore
import HAL
import Synchronization
import Testing

/// The LED class on a temporary sysfs-shaped directory with the kernel's file formats.
@Suite struct LEDClassLineTests {
    @Test func activeWritesMaxBrightnessAndInactiveZero() throws {
        let sysfs = try TemporaryDirectory()
        try sysfs.write("leds/vibrator/max_brightness", "255\n")
        try sysfs.write("leds/vibrator/brightness", "0\n")
        let line = LEDClassLine(directory: sysfs.path + "/leds/vibrator")
        try line.set(active: true)
        #expect(sysfs.read("leds/vibrator/brightness") == "255\n")
        try line.set(active: false)
        #expect(sysfs.read("leds/vibrator/brightness") == "0\n")
        // A gpio-led's maximum is 1.
        try sysfs.write("leds/amp/max_brightness", "1\n")
        try sysfs.write("leds/amp/brightness", "0\n")
        try LEDClassLine(directory: sysfs.path + "/leds/amp/").set(active: true)
        #expect(sysfs.read("leds/amp/brightness") == "1\n")
    }

    @Test func aMissingOrGarbledLEDIsAnErrorNamingTheFile() throws {
        let sysfs = try TemporaryDirectory()
        let missing = LEDClassLine(directory: sysfs.path + "/leds/nothing")
        #expect(throws: HALError.self) { try missing.set(active: true) }
        do { try missing.set(active: true) } catch {
            #expect(error.kind == .unavailable)
            #expect(error.message.contains("/leds/nothing/max_brightness"))
        }
        // Switching off never needs the maximum, but needs the brightness file.
        do { try missing.set(active: false) } catch {
            #expect(error.message.contains("/leds/nothing/brightness"))
        }

        try sysfs.write("leds/bad/max_brightness", "full\n")
        try sysfs.write("leds/bad/brightness", "0\n")
        do {
            try LEDClassLine(directory: sysfs.path + "/leds/bad").set(active: true)
            Issue.record("a garbled max_brightness was accepted")
        } catch {
            #expect(error.kind == .io)
            #expect(error.message.contains("max_brightness"))
            #expect(error.message.contains("\"full\""))
        }
        #expect(sysfs.read("leds/bad/brightness") == "0\n")
    }
}

/// An output line that remembers every level it was driven to, on the test clock.
final class RecordingLine: OutputLine {
    struct Change: Equatable, Sendable {
        var active: Bool
        var at: Int64
    }

    private let clock: TestClock
    private let changes = Mutex<[Change]>([])
    private let failing: Bool

    init(clock: TestClock, failing: Bool = false) {
        self.clock = clock
        self.failing = failing
    }

    func set(active: Bool) throws(HALError) {
        changes.withLock { $0.append(Change(active: active, at: clock.now().milliseconds)) }
        if failing { throw HALError(.io, "the motor driver is gone") }
    }

    var history: [Change] { changes.withLock { $0 } }
}

@Suite struct LineVibratorTests {
    typealias Change = RecordingLine.Change

    @Test func aPatternPlaysOnTheClockAndEndsOff() {
        let clock = TestClock()
        let line = RecordingLine(clock: clock)
        let vibrator = LineVibrator(line: line, clock: clock, logger: LogCapture().logger)
        vibrator.vibrate(VibrationPattern([120, 80, 120]))
        // Started at once, without the clock moving.
        #expect(line.history == [Change(active: true, at: 0)])
        clock.advance(by: .milliseconds(119))
        #expect(line.history.count == 1)
        clock.advance(by: .seconds(5))
        #expect(line.history == [Change(active: true, at: 0), Change(active: false, at: 120),
                                 Change(active: true, at: 200), Change(active: false, at: 320)])
        #expect(clock.pendingCount == 0)
    }

    @Test func aNewPatternReplacesOneInProgress() {
        let clock = TestClock()
        let line = RecordingLine(clock: clock)
        let vibrator = LineVibrator(line: line, clock: clock, logger: LogCapture().logger)
        vibrator.vibrate(VibrationPattern([700]))
        clock.advance(by: .milliseconds(300))
        vibrator.vibrate(VibrationPattern([100, 50, 100]))
        clock.advance(by: .seconds(2))
        // The long buzz's end at 700 ms never comes: the new pattern owns the line.
        #expect(line.history == [Change(active: true, at: 0), Change(active: true, at: 300), Change(active: false, at: 400),
                                 Change(active: true, at: 450), Change(active: false, at: 550)])
        #expect(clock.pendingCount == 0)
    }

    @Test func emptyAndZeroSegmentsLeaveTheLineOff() {
        let clock = TestClock()
        let line = RecordingLine(clock: clock)
        let vibrator = LineVibrator(line: line, clock: clock, logger: LogCapture().logger)
        vibrator.vibrate(VibrationPattern([]))
        #expect(line.history == [Change(active: false, at: 0)])
        // Starts with a pause: off, then on at 100 for 200, then off.
        vibrator.vibrate(VibrationPattern([0, 100, 200]))
        clock.advance(by: .seconds(1))
        #expect(line.history == [Change(active: false, at: 0), Change(active: false, at: 0),
                                 Change(active: true, at: 100), Change(active: false, at: 300)])
    }

    @Test func aFailingLineIsLoggedOncePerPatternAndTimingGoesOn() {
        let clock = TestClock()
        let line = RecordingLine(clock: clock, failing: true)
        let log = LogCapture()
        let vibrator = LineVibrator(line: line, clock: clock, logger: log.logger)
        vibrator.vibrate(VibrationPattern([120, 80, 120]))
        clock.advance(by: .seconds(1))
        #expect(line.history.count == 4)
        #expect(log.count(level: .error, containing: "vibrator line failed") == 1)
    }
}
