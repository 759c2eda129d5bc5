import AlarmCore
import Glibc
import HAL
import Logging
import PosixIO
import Synchronization

/// The button as a key of the kernel's gpio-keys driver (`/dev/input/by-path/platform-gpio-keys-event`).
/// The driver debounces in the kernel (`debounce-interval`, 5 ms by default in the overlay) and reports
/// EV_KEY events: value 1 pressed, 0 released, 2 autorepeat (ignored: a hold is timed by the core, not by
/// repeats). Other codes, EV_SYN and other types are ignored.
///
/// Edges carry the time the kernel saw them, not the time they were read: every open asks for CLOCK_MONOTONIC
/// event timestamps (EVIOCSCLOCKID), the timeline of the injected clock (`KernelTimeline`). A device that
/// refuses (a very old kernel, a FIFO in a test) keeps CLOCK_REALTIME stamps, carried onto the monotonic clock
/// by their age; said once in the log.
///
/// Supervised: every open reports the device's health and reads the key's current state (EVIOCGKEY); an edge the
/// reader missed while the device was gone is delivered, stamped with the time of that read (`EdgeRelay.reconcile`).
public final class InputEventButton: SupervisedButtonInput {
    public let path: String
    public let keyCode: UInt16

    private let reader: RecordStreamReader
    private let relay = EdgeRelay()
    private let supervision: ButtonSupervision

    public convenience init(path: String, keyCode: UInt16, clock: any Clock, logger: Logger) throws(HALError) {
        try self.init(path: path, keyCode: keyCode, clock: clock, logger: logger, open: Self.opener(path))
    }

    /// Non-blocking: the reader waits in poll(2), and a stop must never find it inside read(2).
    static func opener(_ path: String) -> RecordStreamReader.Opener {
        { () throws(Errno) in try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK) }
    }

    /// `open`: how the device is (re)opened; tests hand in a FIFO or a pipe. `useMonotonicClock`: asks the
    /// opened device for CLOCK_MONOTONIC stamps (tests stand in for a device that accepts). `kernelClocks`:
    /// the kernel's clocks (tests: clocks that follow the test clock). `keyIsDown`: reads whether the key is held
    /// on the opened device (tests stand in for EVIOCGKEY, which a FIFO refuses).
    init(path: String, keyCode: UInt16, clock: any Clock, logger: Logger,
         open: @escaping RecordStreamReader.Opener,
         useMonotonicClock: @escaping @Sendable (FileDescriptor) throws(Errno) -> Void = InputDevice.useMonotonicTimestamps,
         keyIsDown: @escaping @Sendable (FileDescriptor, UInt16) throws(Errno) -> Bool = InputDevice.isKeyDown,
         kernelClocks: KernelClocks = .system,
         status: @escaping @Sendable (RecordStreamReader.Status) -> Void = { _ in }) throws(HALError) {
        self.path = path
        self.keyCode = keyCode
        let relay = self.relay
        let supervision = ButtonSupervision(clock: clock)
        self.supervision = supervision
        let stamps = InputStamps(timeline: KernelTimeline(clock: clock, kernel: kernelClocks), logger: logger, path: path)
        reader = try RecordStreamReader(
            name: path, recordSize: KernelRecordSize.inputEvent, clock: clock, logger: logger,
            open: { () throws(Errno) in
                let fd = try open()
                // Per open file: a reopened device is back on CLOCK_REALTIME until asked again.
                do throws(Errno) {
                    try useMonotonicClock(fd)
                    stamps.opened(monotonic: true)
                } catch {
                    stamps.opened(monotonic: false, refusal: error)
                }
                supervision.opened()
                // Read after the open: the new open file's queue only holds events from now on, so whatever
                // happened while the device was gone is known only from its state.
                do throws(Errno) {
                    let down = try keyIsDown(fd, keyCode)
                    relay.reconcile(down ? .pressed : .released, at: clock.now())
                } catch {
                    stamps.keyStateUnreadable(error)
                }
                return fd
            },
            records: { records in
                let events = records.compactMap(InputEvent.init(record:))
                let edges = events.compactMap { event in Self.edge(of: event, key: keyCode).map { ($0, event.time) } }
                guard !edges.isEmpty else { return }
                for (edge, at) in stamps.instants(edges) { relay.emit(edge, at: at) }
            },
            status: { supervision.observe($0); status($0) })
    }

    deinit { reader.stop() }

    static func edge(of event: InputEvent, key: UInt16) -> ButtonEdge? {
        guard event.type == InputEvent.keyType, event.code == key else { return nil }
        switch event.value {
        case 1: return .pressed
        case 0: return .released
        default: return nil
        }
    }

    public func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void,
                      health: @escaping @Sendable (ButtonDeviceHealth, Instant) -> Void) throws(HALError) {
        relay.connect(edges)
        supervision.connect(health)
        try reader.start()
    }

    public func stop() { reader.stop() }
}

/// Which clock the open device stamps with, and the mapping of its stamps onto the injected clock. Each
/// fallback is said once for the button's life, not once per reopen.
private final class InputStamps: Sendable {
    private struct State {
        var monotonic = false
        var toldRealtime = false
        var toldDistrusted = false
        var toldKeyStateUnreadable = false
    }

    private let timeline: KernelTimeline
    private let logger: Logger
    private let path: String
    private let state = Mutex(State())

    init(timeline: KernelTimeline, logger: Logger, path: String) {
        self.timeline = timeline
        self.logger = logger
        self.path = path
    }

    func opened(monotonic: Bool, refusal: Errno? = nil) {
        let tell = state.withLock { state -> Bool in
            state.monotonic = monotonic
            defer { if !monotonic { state.toldRealtime = true } }
            return !monotonic && !state.toldRealtime
        }
        if tell, let refusal {
            logger.notice("the input device refused monotonic timestamps (EVIOCSCLOCKID); mapping its realtime stamps onto the monotonic clock",
                          metadata: ["device": "\(path)", "error": "\(refusal)"])
        }
    }

    /// Without the key's state a release missed during an outage is only found at the next edge; said once.
    func keyStateUnreadable(_ error: Errno) {
        guard state.withLock({ state in defer { state.toldKeyStateUnreadable = true }; return !state.toldKeyStateUnreadable }) else { return }
        logger.notice("cannot read the key state (EVIOCGKEY); edges missed while the device was gone stay missed",
                      metadata: ["device": "\(path)", "error": "\(error)"])
    }

    /// One read's edges with their kernel times, mapped against one reading of the clocks.
    func instants(_ edges: [(ButtonEdge, Duration)]) -> [(ButtonEdge, Instant)] {
        let reading = timeline.read()
        let monotonic = state.withLock { $0.monotonic }
        var distrusted = false
        let mapped = edges.map { edge, time -> (ButtonEdge, Instant) in
            let result = KernelTimeline.map(monotonic ? .monotonic(time) : .realtime(time), reading)
            distrusted = distrusted || result.distrusted
            return (edge, result.instant)
        }
        if distrusted, state.withLock({ state in defer { state.toldDistrusted = true }; return !state.toldDistrusted }) {
            logger.notice("an input event's realtime stamp is more than \(KernelTimeline.realtimeTrust) old (wall clock set?); such edges get their read time",
                          metadata: ["device": "\(path)"])
        }
        return mapped
    }
}
