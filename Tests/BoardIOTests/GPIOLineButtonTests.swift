@testable import BoardIO
import AlarmCore
import Glibc
import HAL
import PosixIO
import Testing

/// The GPIO character-device button: `gpio_v2_line_event` records through a pipe into the same reader,
/// decoder and debounce stage the ioctl path feeds (there is no gpiochip here; the request is checked as bytes).
/// CLOCK_MONOTONIC is the test clock (as it is SystemClock on the device): records are written once the
/// clock has reached their stamps, and edges carry those stamps.
@Suite struct GPIOLineButtonTests {
    struct Edge: Equatable, Sendable {
        var edge: ButtonEdge
        var at: Instant
    }

    final class Harness: Sendable {
        let clock = TestClock()
        let log = LogCapture()
        let edges = Collected<Edge>()
        let statuses = Collected<RecordStreamReader.Status>()

        func handledRecords() -> Int {
            statuses.all.reduce(0) { total, status in
                if case .handled(let count) = status { total + count } else { total }
            }
        }
    }

    static let rising: UInt32 = 1
    static let falling: UInt32 = 2
    static let second: UInt64 = 1_000_000_000
    static let ms: UInt64 = 1_000_000

    func button(_ harness: Harness, _ pipe: TestPipe, debounce: Duration = .milliseconds(30)) throws -> GPIOLineButton {
        let fd = FileDescriptor(rawValue: pipe.readEnd)
        try fd.setNonBlocking()
        var settings = GPIOLineButton.Settings(chip: "/dev/gpiochip0", line: 17)
        settings.debounce = debounce
        let button = try GPIOLineButton(settings: settings, clock: harness.clock, logger: harness.log.logger,
                                        open: { () throws(Errno) in fd }, kernelClocks: .following(harness.clock),
                                        status: { harness.statuses.append($0) })
        try button.start { edge, at in harness.edges.append(Edge(edge: edge, at: at)) }
        return button
    }

    static func instant(_ nanoseconds: UInt64) -> Instant { Instant(sinceOrigin: .nanoseconds(Int64(nanoseconds))) }

    /// Moves the test clock to `nanoseconds` (the kernel's "now").
    func advance(_ harness: Harness, to nanoseconds: UInt64) {
        harness.clock.advance(by: Self.instant(nanoseconds) - harness.clock.now())
    }

    func events(_ list: [(UInt64, UInt32)]) -> [UInt8] {
        list.enumerated().flatMap { index, event in
            RawRecord.lineEvent(nanoseconds: event.0, id: event.1, sequence: UInt32(index + 1))
        }
    }

    @Test func aBouncyPressIsOneEdgeAfterTheLevelHeldForTheDebounce() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try button(harness, pipe)
        defer { button.stop() }

        let t = 5 * Self.second
        advance(harness, to: t + 6 * Self.ms)
        try pipe.write(events([(t, Self.rising), (t + 2 * Self.ms, Self.falling), (t + 3 * Self.ms, Self.rising),
                               (t + 5 * Self.ms, Self.falling), (t + 6 * Self.ms, Self.rising)]))
        #expect(harness.statuses.wait { _ in harness.handledRecords() == 5 })
        #expect(harness.edges.all.isEmpty)
        // Accepted 30 ms after the last bounce, stamped when the level that held began.
        #expect(harness.clock.deadlines == [Self.instant(t + 36 * Self.ms)])
        harness.clock.advance(by: .milliseconds(29))
        #expect(harness.edges.all.isEmpty)
        harness.clock.advance(by: .milliseconds(1))
        #expect(harness.edges.all == [Edge(edge: .pressed, at: Self.instant(t + 6 * Self.ms))])

        // Release, bouncing too, two seconds later.
        let r = t + 2 * Self.second
        advance(harness, to: r + 4 * Self.ms)
        try pipe.write(events([(r, Self.falling), (r + 1 * Self.ms, Self.rising), (r + 4 * Self.ms, Self.falling)]))
        #expect(harness.statuses.wait { _ in harness.handledRecords() == 8 })
        harness.clock.advance(by: .milliseconds(30))
        #expect(harness.edges.all == [Edge(edge: .pressed, at: Self.instant(t + 6 * Self.ms)),
                                      Edge(edge: .released, at: Self.instant(r + 4 * Self.ms))])
        #expect(harness.clock.pendingCount == 0)
    }

    @Test func aGlitchShorterThanTheDebounceIsNoEdge() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try button(harness, pipe)
        defer { button.stop() }

        let t = 7 * Self.second
        advance(harness, to: t + 12 * Self.ms)
        try pipe.write(events([(t, Self.rising), (t + 12 * Self.ms, Self.falling)]))
        #expect(harness.statuses.wait { _ in harness.handledRecords() == 2 })
        harness.clock.advance(by: .seconds(5))
        #expect(harness.edges.all.isEmpty)
        #expect(harness.clock.pendingCount == 0)
    }

    @Test func eventTimestampsDecideEvenWhenRecordsArriveTogether() throws {
        // A slow reader gets a whole 80 ms press in one read: the kernel's timestamps show it held.
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try button(harness, pipe)
        defer { button.stop() }

        let t = 9 * Self.second
        advance(harness, to: t + 80 * Self.ms)
        try pipe.write(events([(t, Self.rising), (t + 80 * Self.ms, Self.falling)]))
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: Self.instant(t))])
        harness.clock.advance(by: .milliseconds(30))
        #expect(harness.edges.all == [Edge(edge: .pressed, at: Self.instant(t)),
                                      Edge(edge: .released, at: Self.instant(t + 80 * Self.ms))])
    }

    @Test func edgesReadLateKeepTheirKernelStampsAndAShortPressStaysShort() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try button(harness, pipe)
        defer { button.stop() }

        // Pressed at T (one bounce), read 300 ms later: the level has long held, so the edge comes at once,
        // stamped T + 1 ms, with no debounce timer left behind.
        let t = 11 * Self.second
        advance(harness, to: t + 300 * Self.ms)
        try pipe.write(events([(t, Self.rising), (t + Self.ms / 2, Self.falling), (t + Self.ms, Self.rising)]))
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: Self.instant(t + Self.ms))])
        #expect(harness.clock.pendingCount == 0)

        // Released 1.5 s after the press by the kernel's stamps, read 700 ms late (1.9 s after the press's read).
        let r = t + Self.ms + 1_500 * Self.ms
        advance(harness, to: r + 700 * Self.ms)
        try pipe.write(events([(r, Self.falling)]))
        #expect(harness.edges.wait { $0.count == 2 })
        let edges = harness.edges.all
        #expect(edges.map(\.edge) == [.pressed, .released])
        #expect(edges[1].at - edges[0].at == .milliseconds(1_500))
        #expect(harness.clock.pendingCount == 0)
    }

    @Test func unknownEventIDsAreIgnored() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try button(harness, pipe)
        defer { button.stop() }

        try pipe.write(RawRecord.lineEvent(nanoseconds: Self.second, id: 7))
        #expect(harness.statuses.wait { _ in harness.handledRecords() == 1 })
        harness.clock.advance(by: .seconds(1))
        #expect(harness.edges.all.isEmpty)
        #expect(harness.clock.pendingCount == 0)
    }

    @Test func lineEventRecordsDecodeFieldByField() {
        let event = LineEvent(record: RawRecord.lineEvent(nanoseconds: 123_456_789_012, id: 2, offset: 17, sequence: 9))
        #expect(event == LineEvent(becameActive: false, timestampNanoseconds: 123_456_789_012, offset: 17, lineSequence: 9))
        #expect(LineEvent(record: RawRecord.lineEvent(nanoseconds: 1, id: 1))?.becameActive == true)
        #expect(LineEvent(record: Array(RawRecord.lineEvent(nanoseconds: 1, id: 1).prefix(47))) == nil)
    }
}

/// The ioctl's argument, checked byte by byte against the header's layout (offsets worked out by hand from
/// <linux/gpio.h>): what GPIO_V2_GET_LINE_IOCTL would receive on a Pi.
@Suite struct GPIOLineRequestTests {
    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
    static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        bytes[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    // gpio_v2_line_request: offsets[64] @0, consumer[32] @256, config @288 (flags @288, num_attrs @296,
    // attrs[10] @320, 24 bytes each: id @+0, value @+8, mask @+16), num_lines @560, event_buffer_size @564, fd @588.
    @Test func anInputButtonRequest() {
        var settings = GPIOLineButton.Settings(chip: "/dev/gpiochip0", line: 17)
        settings.activeLow = true
        settings.bias = .pullUp
        settings.debounce = .milliseconds(30)
        let bytes = settings.request.kernelBytes
        #expect(bytes.count == 592)
        #expect(Self.u32(bytes, 0) == 17)
        #expect(Self.u32(bytes, 4) == 0)
        #expect(String(decoding: bytes[256..<288].prefix { $0 != 0 }, as: UTF8.self) == "alarmd button")
        let input: UInt64 = 1 << 2, rising: UInt64 = 1 << 4, falling: UInt64 = 1 << 5
        let activeLow: UInt64 = 1 << 1, pullUp: UInt64 = 1 << 8
        #expect(Self.u64(bytes, 288) == input | rising | falling | activeLow | pullUp)
        #expect(Self.u32(bytes, 296) == 1)
        #expect(Self.u32(bytes, 320) == 3)          // GPIO_V2_LINE_ATTR_ID_DEBOUNCE
        #expect(Self.u32(bytes, 328) == 30_000)     // microseconds
        #expect(Self.u64(bytes, 336) == 1)          // applies to the first requested line
        #expect(Self.u32(bytes, 344) == 0)          // no second attribute
        #expect(Self.u32(bytes, 560) == 1)
        #expect(Self.u32(bytes, 564) == 0)          // the kernel's default event buffer
    }

    @Test func biasChoicesAndNoDebounce() {
        var request = GPIOLineRequest(offset: 4, consumer: "x", direction: .input)
        #expect(request.flags == (1 << 2 | 1 << 4 | 1 << 5))
        request.bias = .pullDown
        #expect(request.flags & (1 << 9) != 0)
        request.bias = .disabled
        #expect(request.flags & (1 << 10) != 0)
        #expect(Self.u32(request.kernelBytes, 296) == 0)
    }

    @Test func eventTimestampsStayOnTheMonotonicClock() {
        // GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME (bit 11) and _HTE (bit 12) are never asked for.
        var settings = GPIOLineButton.Settings(chip: "/dev/gpiochip0", line: 17)
        for bias in GPIOBias.allCases {
            for activeLow in [false, true] {
                settings.bias = bias
                settings.activeLow = activeLow
                #expect(Self.u64(settings.request.kernelBytes, 288) & (1 << 11 | 1 << 12) == 0)
            }
        }
    }

    @Test func anOutputRequestStartsAtTheRequestedLevel() {
        let request = GPIOLineRequest(offset: 18, consumer: "alarmd", direction: .output(initiallyActive: false), activeLow: true)
        let bytes = request.kernelBytes
        #expect(Self.u32(bytes, 0) == 18)
        #expect(Self.u64(bytes, 288) == (1 << 3 | 1 << 1))   // OUTPUT | ACTIVE_LOW
        #expect(Self.u32(bytes, 296) == 1)
        #expect(Self.u32(bytes, 320) == 2)                   // GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
        #expect(Self.u64(bytes, 328) == 0)                   // inactive (the kernel applies active-low)
        #expect(Self.u64(bytes, 336) == 1)
        let on = GPIOLineRequest(offset: 18, consumer: "alarmd", direction: .output(initiallyActive: true)).kernelBytes
        #expect(Self.u64(on, 328) == 1)
    }

    @Test func aLongConsumerNameIsTruncatedAndTerminated() {
        let bytes = GPIOLineRequest(offset: 1, consumer: String(repeating: "c", count: 50), direction: .input).kernelBytes
        #expect(bytes[256..<287].allSatisfy { $0 == UInt8(ascii: "c") })
        #expect(bytes[287] == 0)
    }

    @Test func noChipIsUnavailableNotACrash() {
        let line = GPIOOutputLine(chip: "/nonexistent/gpiochip9", line: 18)
        #expect(throws: HALError.self) { try line.set(active: false) }
        do {
            try line.set(active: false)
        } catch {
            #expect(error.kind == .unavailable)
            #expect(error.message.contains("/nonexistent/gpiochip9 line 18"))
        }
    }
}
