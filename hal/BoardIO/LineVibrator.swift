import AlarmCore
import HAL
import Logging
import Synchronization

/// Plays vibration patterns on any output line (a motor driver's enable GPIO, an LED-class motor) with timers
/// on the injected clock: never sleeps, never blocks the caller. A new pattern replaces one in progress at
/// once; every pattern ends with the line off.
public final class LineVibrator: Vibrator {
    private struct State {
        var generation = 0
        var timer: (any Cancellable)?
        /// One log line per pattern for a failing line, not one per step.
        var failureLogged = false
    }

    private let line: any OutputLine
    private let clock: any Clock
    private let logger: Logger
    private let state = Mutex(State())

    public init(line: any OutputLine, clock: any Clock, logger: Logger) {
        self.line = line
        self.clock = clock
        self.logger = logger
    }

    public func vibrate(_ pattern: VibrationPattern) {
        let segments = pattern.milliseconds.map { max($0, 0) }
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
            state.generation += 1
            state.failureLogged = false
            step(segments, index: 0, state: &state)
        }
    }

    /// Segment `index` starts now: even segments are on, odd ones off. Zero-length segments are skipped
    /// (an "on 0" must not flick the motor). Runs under the lock, so a replaced pattern can never drive the
    /// line after its successor started.
    private func step(_ segments: [Int], index: Int, state: inout State) {
        var index = index
        while index < segments.count, segments[index] == 0 { index += 1 }
        guard index < segments.count else {
            drive(false, state: &state)
            state.timer = nil
            return
        }
        drive(index % 2 == 0, state: &state)
        let generation = state.generation
        let next = index + 1
        state.timer = clock.schedule(after: .milliseconds(segments[index])) { [self] in
            self.state.withLock { current in
                guard current.generation == generation else { return }
                step(segments, index: next, state: &current)
            }
        }
    }

    private func drive(_ on: Bool, state: inout State) {
        do {
            try line.set(active: on)
        } catch {
            guard !state.failureLogged else { return }
            state.failureLogged = true
            logger.error("vibrator line failed", metadata: ["error": "\(error)", "on": "\(on)"])
        }
    }
}
