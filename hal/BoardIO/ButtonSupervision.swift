import AlarmCore
import HAL
import Synchronization

/// Turns a reader's opens and failures into the button's health: `opened` once, then one `lost` and one
/// `reopened` per outage however many reopen attempts fail in between. A first open that fails is `lost` too: a
/// button that never opened cannot raise an alarm either.
final class ButtonSupervision: Sendable {
    private struct State {
        var sink: (@Sendable (ButtonDeviceHealth, Instant) -> Void)?
        var everOpened = false
        var down = false
    }

    private let clock: any Clock
    private let state = Mutex(State())

    init(clock: any Clock) { self.clock = clock }

    func connect(_ sink: @escaping @Sendable (ButtonDeviceHealth, Instant) -> Void) {
        state.withLock { $0.sink = sink }
    }

    /// Called on the reader thread right after a successful open, before the device's state is read: the runtime
    /// hears that the button is back before any edge synthesised from that read.
    func opened() {
        let report = state.withLock { state -> (ButtonDeviceHealth, (@Sendable (ButtonDeviceHealth, Instant) -> Void)?)? in
            defer {
                state.everOpened = true
                state.down = false
            }
            if !state.everOpened { return (.opened, state.sink) }
            return state.down ? (.reopened, state.sink) : nil
        }
        if let (health, sink) = report { sink?(health, clock.now()) }
    }

    /// The reader's view: a lost device or a failed (re)open.
    func observe(_ status: RecordStreamReader.Status) {
        let reason: String
        switch status {
        case .lost(let why), .openFailed(let why): reason = why
        case .opened, .handled: return
        }
        let sink = state.withLock { state -> (@Sendable (ButtonDeviceHealth, Instant) -> Void)? in
            guard !state.down else { return nil }
            state.down = true
            return state.sink
        }
        sink?(.lost(reason: reason), clock.now())
    }
}
