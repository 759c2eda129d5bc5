import AlarmCore
import Glibc
import HAL
import Logging
import PosixIO
import Synchronization

/// The button as a line of a GPIO character device (`/dev/gpiochip0`, line 17), requested through the
/// kernel's v2 uAPI as an input with events on both edges, the board's bias and polarity, and the kernel's
/// debounce where the kernel accepts it. Every edge then goes through a software `Debouncer` with the same
/// period, on the events' kernel timestamps, so a chip or kernel without debounce still yields one edge per
/// press. Accepted edges carry the kernel's timestamp of the raw edge that began the accepted level
/// (`gpio_v2_line_event.timestamp_ns`, CLOCK_MONOTONIC: the request never asks for another event clock), so
/// neither the debounce nor a late read shifts them.
///
/// Supervised: every open reports the device's health and reads the line's level
/// (GPIO_V2_LINE_GET_VALUES_IOCTL); an edge missed while the device was gone is delivered, stamped with the time of
/// that read (`EdgeRelay.reconcile`).
public final class GPIOLineButton: SupervisedButtonInput {
    public struct Settings: Sendable, Equatable {
        public var chip: String
        public var line: UInt32
        public var activeLow = false
        public var bias: GPIOBias = .asIs
        public var debounce: Duration = .milliseconds(30)
        /// Shown as the line's consumer by `gpioinfo`.
        public var consumer = "alarmd button"

        public init(chip: String, line: UInt32) {
            self.chip = chip
            self.line = line
        }

        var request: GPIOLineRequest {
            GPIOLineRequest(offset: line, consumer: consumer, direction: .input, activeLow: activeLow, bias: bias,
                            debounce: debounce)
        }
    }

    public let settings: Settings
    private let reader: RecordStreamReader
    private let relay = EdgeRelay()
    private let stage: DebounceStage
    private let supervision: ButtonSupervision

    public convenience init(settings: Settings, clock: any Clock, logger: Logger) throws(HALError) {
        let kernelDebounce = KernelDebounceFallback(logger: logger)
        try self.init(settings: settings, clock: clock, logger: logger,
                      open: { () throws(Errno) in try kernelDebounce.request(settings.request, chip: settings.chip) },
                      level: { try? GPIOChip.isActive($0) })
    }

    /// `open`: returns a descriptor that delivers `gpio_v2_line_event` records (tests: a pipe). `level`: the
    /// line's logical level right after opening, when it can be read.
    /// `kernelClocks`: the kernel's clocks (tests: clocks that follow the test clock).
    init(settings: Settings, clock: any Clock, logger: Logger,
         open: @escaping RecordStreamReader.Opener,
         level: @escaping @Sendable (FileDescriptor) -> Bool? = { _ in nil },
         kernelClocks: KernelClocks = .system,
         status: @escaping @Sendable (RecordStreamReader.Status) -> Void = { _ in }) throws(HALError) {
        self.settings = settings
        let supervision = ButtonSupervision(clock: clock)
        self.supervision = supervision
        let stage = DebounceStage(period: settings.debounce, timeline: KernelTimeline(clock: clock, kernel: kernelClocks),
                                  relay: relay)
        self.stage = stage
        reader = try RecordStreamReader(
            name: "\(settings.chip) line \(settings.line)", recordSize: KernelRecordSize.lineEvent,
            clock: clock, logger: logger,
            open: { () throws(Errno) in
                let fd = try open()
                supervision.opened()
                stage.restart(readLevel: level(fd))
                return fd
            },
            records: { records in stage.observe(records.compactMap(LineEvent.init(record:))) },
            status: { supervision.observe($0); status($0) })
    }

    deinit { reader.stop() }

    public func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void,
                      health: @escaping @Sendable (ButtonDeviceHealth, Instant) -> Void) throws(HALError) {
        relay.connect(edges)
        supervision.connect(health)
        try reader.start()
    }

    public func stop() {
        reader.stop()
        stage.cancel()
    }
}

/// Runs the pure `Debouncer` on the events' kernel timestamps carried onto the injected clock's timeline
/// (`KernelTimeline`), so "held for the period with no further edge" is a timer on that clock at the
/// debouncer's own deadline. An accepted edge is stamped with the time its level began, not when it was accepted.
private final class DebounceStage: Sendable {
    private struct State {
        var debouncer: Debouncer
        var timer: (any Cancellable)?
        var generation = 0
    }

    private let timeline: KernelTimeline
    private let relay: EdgeRelay
    private let state: Mutex<State>

    private var clock: any Clock { timeline.clock }

    init(period: Duration, timeline: KernelTimeline, relay: EdgeRelay) {
        self.timeline = timeline
        self.relay = relay
        state = Mutex(State(debouncer: Debouncer(period: period)))
    }

    /// A (re)opened line starts from its read level, and the relay delivers an edge if that level differs from the
    /// last edge delivered (stamped when found: no event says when it changed). A level that cannot be read keeps
    /// the debouncer's.
    func restart(readLevel: Bool?) {
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
            state.generation += 1
            state.debouncer = Debouncer(period: state.debouncer.period, initiallyActive: readLevel ?? state.debouncer.accepted)
        }
        if let readLevel { relay.reconcile(readLevel ? .pressed : .released, at: clock.now()) }
    }

    func observe(_ events: [LineEvent]) {
        guard !events.isEmpty else { return }
        let reading = timeline.read()
        let accepted = state.withLock { state -> [(Bool, Instant)] in
            var accepted: [(Bool, Instant)] = []
            for event in events {
                let stamp = KernelStamp.monotonic(.nanoseconds(Int64(clamping: event.timestampNanoseconds)))
                let time = KernelTimeline.map(stamp, reading).instant
                if let level = state.debouncer.observe(active: event.becameActive, at: time) {
                    accepted.append((level, state.debouncer.acceptedSince ?? time))
                }
            }
            state.timer?.cancel()
            state.timer = nil
            state.generation += 1
            // Read late (a busy moment): the level may already have held long enough by the kernel's stamps.
            if let level = state.debouncer.settle(at: reading.now) {
                accepted.append((level, state.debouncer.acceptedSince ?? reading.now))
            }
            if let deadline = state.debouncer.deadline {
                let generation = state.generation
                state.timer = clock.schedule(at: deadline) { [self] in settle(generation: generation) }
            }
            return accepted
        }
        for (level, at) in accepted { relay.emit(level ? .pressed : .released, at: at) }
    }

    func cancel() {
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
            state.generation += 1
        }
    }

    private func settle(generation: Int) {
        let now = clock.now()
        let accepted = state.withLock { state -> (Bool, Instant)? in
            guard state.generation == generation else { return nil }
            state.timer = nil
            return state.debouncer.settle(at: now).map { ($0, state.debouncer.acceptedSince ?? now) }
        }
        if let (level, at) = accepted { relay.emit(level ? .pressed : .released, at: at) }
    }
}

/// Asks for the kernel's debounce; a kernel that refuses the attribute (EINVAL) gets the request again
/// without it, and the software debounce alone does the work. Said once in the log.
private final class KernelDebounceFallback: Sendable {
    private let logger: Logger
    private let refused = Mutex(false)

    init(logger: Logger) { self.logger = logger }

    func request(_ request: GPIOLineRequest, chip: String) throws(Errno) -> FileDescriptor {
        if request.debounce != nil, !refused.withLock({ $0 }) {
            do {
                return try GPIOChip.request(request, chip: chip)
            } catch where error == .invalidArgument {
                refused.withLock { $0 = true }
                logger.notice("the kernel refused GPIO debounce on this line; software debounce only",
                              metadata: ["chip": "\(chip)", "line": "\(request.offset)"])
            }
        }
        var plain = request
        plain.debounce = nil
        return try GPIOChip.request(plain, chip: chip)
    }
}
