import AlarmCore
import Glibc
import HAL
import Logging
import PosixIO

/// The button as a key of the kernel's gpio-keys driver (`/dev/input/by-path/platform-gpio-keys-event`).
/// The driver debounces in the kernel (`debounce-interval`, 5 ms by default in the overlay) and reports
/// EV_KEY events: value 1 pressed, 0 released, 2 autorepeat (ignored: a hold is timed by the core, not by
/// repeats). Other codes, EV_SYN and other types are ignored. Edges carry the injected clock's `now` at the
/// moment they are read, the same clock the core's hold timer runs on.
public final class InputEventButton: ButtonInput {
    public let path: String
    public let keyCode: UInt16

    private let reader: RecordStreamReader
    private let relay = EdgeRelay()

    public convenience init(path: String, keyCode: UInt16, clock: any Clock, logger: Logger) throws(HALError) {
        try self.init(path: path, keyCode: keyCode, clock: clock, logger: logger, open: Self.opener(path))
    }

    /// Non-blocking: the reader waits in poll(2), and a stop must never find it inside read(2).
    static func opener(_ path: String) -> RecordStreamReader.Opener {
        { () throws(Errno) in try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK) }
    }

    /// `open`: how the device is (re)opened; tests hand in a FIFO or a pipe.
    init(path: String, keyCode: UInt16, clock: any Clock, logger: Logger,
         open: @escaping RecordStreamReader.Opener,
         status: @escaping @Sendable (RecordStreamReader.Status) -> Void = { _ in }) throws(HALError) {
        self.path = path
        self.keyCode = keyCode
        let relay = self.relay
        reader = try RecordStreamReader(
            name: path, recordSize: KernelRecordSize.inputEvent, clock: clock, logger: logger, open: open,
            records: { records in
                for record in records {
                    guard let event = InputEvent(record: record), let edge = Self.edge(of: event, key: keyCode) else { continue }
                    relay.emit(edge, at: clock.now())
                }
            },
            status: status)
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

    public func start(_ edges: @escaping @Sendable (ButtonEdge, Instant) -> Void) throws(HALError) {
        relay.connect(edges)
        try reader.start()
    }

    public func stop() { reader.stop() }
}
