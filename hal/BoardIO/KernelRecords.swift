import CBoardIO

/// One `struct input_event` as the input subsystem writes it (native byte order). The timestamp is on
/// CLOCK_REALTIME unless the reader asked for CLOCK_MONOTONIC (EVIOCSCLOCKID), which `InputEventButton` does.
public struct InputEvent: Sendable, Hashable {
    public var seconds: Int64
    public var microseconds: Int64
    public var type: UInt16
    public var code: UInt16
    public var value: Int32

    public init(seconds: Int64 = 0, microseconds: Int64 = 0, type: UInt16, code: UInt16, value: Int32) {
        self.seconds = seconds
        self.microseconds = microseconds
        self.type = type
        self.code = code
        self.value = value
    }

    /// Decodes through the kernel's own struct, so the layout is the header's, not ours.
    init?(record: [UInt8]) {
        guard record.count == KernelRecordSize.inputEvent else { return nil }
        var event = input_event()
        withUnsafeMutableBytes(of: &event) { raw in record.withUnsafeBytes { raw.copyMemory(from: $0) } }
        // Through the header's input_event_sec/_usec, which name the fields of either time layout.
        seconds = cboardio_input_event_sec(&event)
        microseconds = cboardio_input_event_usec(&event)
        type = event.type
        code = event.code
        value = event.value
    }
}

extension InputEvent {
    /// The kernel's timestamp, on the clock the open file was set to.
    var time: Duration { .seconds(seconds) + .microseconds(microseconds) }

    static let keyType = UInt16(EV_KEY)
    static let syncType = UInt16(EV_SYN)
}

/// One `struct gpio_v2_line_event` read from a line request's descriptor.
public struct LineEvent: Sendable, Hashable {
    /// Rising is inactive → active (the kernel applies active-low before deciding).
    public var becameActive: Bool
    /// CLOCK_MONOTONIC unless the request asked for another clock.
    public var timestampNanoseconds: UInt64
    public var offset: UInt32
    public var lineSequence: UInt32

    public init(becameActive: Bool, timestampNanoseconds: UInt64, offset: UInt32 = 0, lineSequence: UInt32 = 0) {
        self.becameActive = becameActive
        self.timestampNanoseconds = timestampNanoseconds
        self.offset = offset
        self.lineSequence = lineSequence
    }

    /// nil for an id the kernel may add later (neither rising nor falling).
    init?(record: [UInt8]) {
        guard record.count == KernelRecordSize.lineEvent else { return nil }
        var event = gpio_v2_line_event()
        withUnsafeMutableBytes(of: &event) { raw in record.withUnsafeBytes { raw.copyMemory(from: $0) } }
        switch event.id {
        case UInt32(GPIO_V2_LINE_EVENT_RISING_EDGE.rawValue): becameActive = true
        case UInt32(GPIO_V2_LINE_EVENT_FALLING_EDGE.rawValue): becameActive = false
        default: return nil
        }
        timestampNanoseconds = event.timestamp_ns
        offset = event.offset
        lineSequence = event.line_seqno
    }
}
