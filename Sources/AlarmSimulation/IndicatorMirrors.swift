import AlarmCore
import AlarmRuntime
import HAL
import Synchronization

/// Passes vibration patterns on and remembers the last one, so the test port can say whether the motor is
/// running at a given instant (the pattern is a pure function of its start time).
final class MirroredVibrator: Vibrator {
    let inner: any Vibrator
    let clock: any Clock
    private let last = Mutex<(pattern: VibrationPattern, start: Instant)?>(nil)

    init(_ inner: any Vibrator, clock: any Clock) {
        self.inner = inner
        self.clock = clock
    }

    func vibrate(_ pattern: VibrationPattern) {
        last.withLock { $0 = (pattern, clock.now()) }
        inner.vibrate(pattern)
    }

    var isOn: Bool {
        guard let (pattern, start) = last.withLock({ $0 }) else { return false }
        var elapsed = (clock.now() - start).milliseconds
        for (index, length) in pattern.milliseconds.enumerated() {
            if elapsed < Int64(length) { return index % 2 == 0 }
            elapsed -= Int64(length)
        }
        return false
    }
}

/// Passes an output line on and remembers its level.
final class MirroredOutputLine: OutputLine {
    let inner: any OutputLine
    private let level = Mutex(false)

    init(_ inner: any OutputLine) { self.inner = inner }

    func set(active: Bool) throws(HALError) {
        try inner.set(active: active)
        level.withLock { $0 = active }
    }

    var isActive: Bool { level.withLock { $0 } }
}

/// Passes button edges (and the wrapped button's health, when it is supervised) on and remembers whether the button
/// is held.
final class MirroredButton: SupervisedButtonInput {
    let inner: any ButtonInput
    private let held = Mutex(false)

    init(_ inner: any ButtonInput) { self.inner = inner }

    func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void,
               health: @escaping @Sendable (ButtonDeviceHealth, Instant) -> Void) throws(HALError) {
        let mirrored: @Sendable (ButtonEdge, Instant) -> Void = { [self] edge, instant in
            self.held.withLock { $0 = edge == .pressed }
            edges(edge, instant)
        }
        if let supervised = inner as? any SupervisedButtonInput {
            try supervised.start(mirrored, health: health)
        } else {
            try inner.start(mirrored)
        }
    }

    var isHeld: Bool { held.withLock { $0 } }
}
