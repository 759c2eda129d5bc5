@testable import BoardIO
import AlarmCore
import Glibc
import HAL
import PosixIO
import Synchronization
import Testing

/// Button edges carry the time the kernel saw them, not the time the reader got to them: the kernel clocks
/// here follow the test clock (CLOCK_MONOTONIC is the test clock, as it is SystemClock on the device), and
/// records are written into the pipe after the test clock has moved past their stamps.
@Suite struct KernelStampTests {
    static let key: UInt16 = 148

    struct Edge: Equatable, Sendable {
        var edge: ButtonEdge
        var at: Instant
    }

    final class Harness: Sendable {
        let clock = TestClock()
        let log = LogCapture()
        let edges = Collected<Edge>()
        let statuses = Collected<RecordStreamReader.Status>()
        let clockRequests = Mutex(0)

        func handledRecords() -> Int {
            statuses.all.reduce(0) { total, status in
                if case .handled(let count) = status { total + count } else { total }
            }
        }
    }

    /// `monotonicAccepted`: the device takes EVIOCSCLOCKID (a pipe cannot: this stands in for a real evdev
    /// node); false runs the real ioctl, which the pipe refuses, so stamps are CLOCK_REALTIME.
    func inputButton(_ harness: Harness, _ pipe: TestPipe, monotonicAccepted: Bool) throws -> InputEventButton {
        let fd = FileDescriptor(rawValue: pipe.readEnd)
        try fd.setNonBlocking()
        let useMonotonic: @Sendable (FileDescriptor) throws(Errno) -> Void = { (device: FileDescriptor) throws(Errno) in
            harness.clockRequests.withLock { $0 += 1 }
            if !monotonicAccepted { try InputDevice.useMonotonicTimestamps(device) }
        }
        let button = try InputEventButton(path: "test-pipe", keyCode: Self.key, clock: harness.clock, logger: harness.log.logger,
                                          open: { () throws(Errno) in fd }, useMonotonicClock: useMonotonic,
                                          // A pipe has no key state (EVIOCGKEY): this stands in for a key that is up.
                                          keyIsDown: { _, _ in false },
                                          kernelClocks: .following(harness.clock), status: { harness.statuses.append($0) })
        try button.start { edge, at in harness.edges.append(Edge(edge: edge, at: at)) }
        return button
    }

    static func ms(_ value: Int64) -> Duration { .milliseconds(value) }

    // MARK: input events, CLOCK_MONOTONIC (EVIOCSCLOCKID accepted)

    @Test func anEdgeReadLateKeepsItsKernelStamp() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try inputButton(harness, pipe, monotonicAccepted: true)
        defer { button.stop() }

        // The kernel stamps the press at T; the reader gets it 300 ms later (a busy moment).
        let t = Self.ms(10_000)
        harness.clock.advance(by: t + Self.ms(300))
        try pipe.write(RawRecord.key(Self.key, 1, at: t) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: Instant(sinceOrigin: t))])
        #expect(harness.clockRequests.withLock { $0 } == 1)
        #expect(harness.log.lines.all.filter { $0.level >= .notice }.isEmpty)
    }

    @Test func aShortPressReadLateStaysShort() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try inputButton(harness, pipe, monotonicAccepted: true)
        defer { button.stop() }

        // Pressed at T, released 1.5 s later by the kernel's stamps. The press is read 300 ms late, the release
        // 700 ms late: by read times the press lasted 1.9 s.
        let t = Self.ms(40_000)
        harness.clock.advance(by: t + Self.ms(300))
        try pipe.write(RawRecord.key(Self.key, 1, at: t) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 1 })
        harness.clock.advance(by: Self.ms(1_900))
        try pipe.write(RawRecord.key(Self.key, 0, at: t + Self.ms(1_500)) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 2 })
        let edges = harness.edges.all
        #expect(edges.map(\.edge) == [.pressed, .released])
        #expect(edges[1].at - edges[0].at == Self.ms(1_500))

        // A second short press that the reader only gets after the 2 s mark, both edges in one read.
        let u = Self.ms(50_000)
        harness.clock.advance(by: u + Self.ms(2_500) - harness.clock.now().sinceOrigin)
        try pipe.write(RawRecord.key(Self.key, 1, at: u) + RawRecord.sync
                       + RawRecord.key(Self.key, 0, at: u + Self.ms(1_500)) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 4 })
        #expect(harness.edges.all.suffix(2) == [Edge(edge: .pressed, at: Instant(sinceOrigin: u)),
                                                 Edge(edge: .released, at: Instant(sinceOrigin: u + Self.ms(1_500)))])
    }

    @Test func aStampAheadOfTheClockIsNow() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try inputButton(harness, pipe, monotonicAccepted: true)
        defer { button.stop() }

        harness.clock.advance(by: Self.ms(5_000))
        try pipe.write(RawRecord.key(Self.key, 1, at: Self.ms(7_000)) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: .milliseconds(5_000))])
    }

    // MARK: input events, CLOCK_REALTIME (EVIOCSCLOCKID refused)

    @Test func aRefusedClockFallsBackToRealtimeStampsMappedOntoTheMonotonicClock() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try inputButton(harness, pipe, monotonicAccepted: false)
        defer { button.stop() }
        let realtime = RawRecord.realtimeOffset

        // Pressed at wall time W(20 s), read 300 ms later: monotonic now - (realtime now - stamp) = 20 s.
        harness.clock.advance(by: Self.ms(20_300))
        try pipe.write(RawRecord.key(Self.key, 1, at: realtime + Self.ms(20_000)) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all.last == Edge(edge: .pressed, at: .milliseconds(20_000)))

        // A wall clock set back since the stamp: never an edge in the future, "just now" instead.
        harness.clock.advance(by: Self.ms(1_000))
        try pipe.write(RawRecord.key(Self.key, 0, at: realtime + Self.ms(30_000)) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 2 })
        #expect(harness.edges.all.last == Edge(edge: .released, at: .milliseconds(21_300)))

        // A stamp an hour old is not believed (a wall clock set forward in between): the read time.
        harness.clock.advance(by: Self.ms(1_000))
        try pipe.write(RawRecord.key(Self.key, 1, at: realtime + Self.ms(22_300) - .seconds(3_600)) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 3 })
        #expect(harness.edges.all.last == Edge(edge: .pressed, at: .milliseconds(22_300)))
        try pipe.write(RawRecord.key(Self.key, 0, at: .zero) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 4 })
        #expect(harness.edges.all.last == Edge(edge: .released, at: .milliseconds(22_300)))

        // Each fallback said once.
        #expect(harness.log.count(level: .notice, containing: "refused monotonic timestamps") == 1)
        #expect(harness.log.count(level: .notice, containing: "Inappropriate ioctl") == 1)
        #expect(harness.log.count(level: .notice, containing: "realtime stamp is more than") == 1)
        #expect(harness.log.lines.all.count == 2)
    }

    @Test func theClockIsAskedForAgainOnEveryReopenAndTheFallbackSaidOnce() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/event-node"
        #expect(mkfifo(path, 0o600) == 0)
        var writer = open(path, O_RDWR | O_NONBLOCK)
        let harness = Harness()
        let button = try InputEventButton(
            path: path, keyCode: Self.key, clock: harness.clock, logger: harness.log.logger, open: InputEventButton.opener(path),
            useMonotonicClock: { (device: FileDescriptor) throws(Errno) in
                harness.clockRequests.withLock { $0 += 1 }
                try InputDevice.useMonotonicTimestamps(device)
            },
            kernelClocks: .following(harness.clock), status: { harness.statuses.append($0) })
        try button.start { edge, at in harness.edges.append(Edge(edge: edge, at: at)) }
        defer { button.stop() }
        #expect(harness.statuses.wait { $0.contains(.opened) })
        #expect(harness.clockRequests.withLock { $0 } == 1)

        close(writer)
        #expect(harness.statuses.wait { $0.contains { if case .lost = $0 { true } else { false } } })
        writer = open(path, O_RDWR | O_NONBLOCK)
        defer { close(writer) }
        harness.clock.advance(by: RecordStreamReader.firstRetry)
        #expect(harness.statuses.wait { $0.filter { $0 == .opened }.count == 2 })
        #expect(harness.clockRequests.withLock { $0 } == 2)
        #expect(harness.log.count(level: .notice, containing: "refused monotonic timestamps") == 1)
    }

    @Test func theClockIoctlOnSomethingNotAnInputDeviceIsATypedError() throws {
        let pipe = try TestPipe()
        #expect(throws: Errno(ENOTTY)) { try InputDevice.useMonotonicTimestamps(FileDescriptor(rawValue: pipe.readEnd)) }
        #expect(throws: Errno.badFileDescriptor) { try InputDevice.useMonotonicTimestamps(FileDescriptor(rawValue: -1)) }
    }

    @Test func inputEventTimestampsDecodeThroughTheHeaderAccessors() {
        let event = InputEvent(record: RawRecord.inputEvent(seconds: 1_795_000_123, microseconds: 456_789, type: 1, code: 148, value: 1))
        #expect(event?.seconds == 1_795_000_123)
        #expect(event?.microseconds == 456_789)
        #expect(event?.time == .seconds(1_795_000_123) + .microseconds(456_789))
    }

    // MARK: the mapping itself

    static func reading(now: Int64, monotonic: Int64, realtime: Int64) -> KernelTimeline.Reading {
        KernelTimeline.Reading(now: .milliseconds(now), monotonic: ms(monotonic), realtime: ms(realtime))
    }

    @Test func monotonicStampsOnTheClocksOwnTimelineAreTheInstantItself() {
        // SystemClock's now is CLOCK_MONOTONIC, read a few microseconds apart.
        let reading = KernelTimeline.Reading(now: .milliseconds(90_000), monotonic: Self.ms(90_000) + .microseconds(3),
                                             realtime: Self.ms(999_999))
        #expect(KernelTimeline.map(.monotonic(Self.ms(89_700)), reading) == .init(instant: .milliseconds(89_700)))
        #expect(KernelTimeline.map(.monotonic(Self.ms(90_000) + .microseconds(1)), reading)
                == .init(instant: .milliseconds(90_000)))
    }

    @Test func aClockOffTheKernelsTimelineGetsTheEventsAge() {
        // A manual clock at 1 s while the kernel has been up for an hour: the event's age carries over.
        let reading = Self.reading(now: 1_000, monotonic: 3_600_000, realtime: 1_795_000_000_000)
        #expect(KernelTimeline.map(.monotonic(Self.ms(3_599_700)), reading) == .init(instant: .milliseconds(700)))
        #expect(KernelTimeline.map(.realtime(Self.ms(1_794_999_999_900)), reading) == .init(instant: .milliseconds(900)))
        #expect(KernelTimeline.map(.monotonic(Self.ms(3_600_050)), reading) == .init(instant: .milliseconds(1_000)))
    }

    @Test func realtimeStampsAreCarriedByTheirAgeAndNeverLandInTheFuture() {
        let reading = Self.reading(now: 50_000, monotonic: 50_000, realtime: 1_795_000_050_000)
        #expect(KernelTimeline.map(.realtime(Self.ms(1_795_000_049_750)), reading) == .init(instant: .milliseconds(49_750)))
        #expect(KernelTimeline.map(.realtime(Self.ms(1_795_000_050_000)), reading) == .init(instant: .milliseconds(50_000)))
        // Ahead of the wall clock (stepped back): now, not later.
        #expect(KernelTimeline.map(.realtime(Self.ms(1_795_000_060_000)), reading) == .init(instant: .milliseconds(50_000)))
        // Just inside and just outside what is believed.
        #expect(KernelTimeline.map(.realtime(Self.ms(1_795_000_040_000)), reading) == .init(instant: .milliseconds(40_000)))
        #expect(KernelTimeline.map(.realtime(Self.ms(1_795_000_039_999)), reading)
                == .init(instant: .milliseconds(50_000), distrusted: true))
        // A made-up record (time zero) is the read time.
        #expect(KernelTimeline.map(.realtime(.zero), reading) == .init(instant: .milliseconds(50_000), distrusted: true))
    }
}
