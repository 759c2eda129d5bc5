@testable import BoardIO
import AlarmCore
import Glibc
import HAL
import PosixIO
import Testing

/// The gpio-keys button through its real read path: `input_event` records written into a pipe or a FIFO,
/// read by the reader thread (poll + read), framed, decoded and turned into edges on the test clock.
@Suite struct InputEventButtonTests {
    static let key: UInt16 = 148  // KEY_PROG1

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

        func reads() -> Int {
            statuses.all.filter { if case .handled = $0 { true } else { false } }.count
        }

        func count(_ match: (RecordStreamReader.Status) -> Bool) -> Int { statuses.all.filter(match).count }
    }

    static func isOpened(_ status: RecordStreamReader.Status) -> Bool { status == .opened }
    static func isLost(_ status: RecordStreamReader.Status) -> Bool { if case .lost = status { true } else { false } }
    static func isOpenFailed(_ status: RecordStreamReader.Status) -> Bool { if case .openFailed = status { true } else { false } }

    func pipeButton(_ harness: Harness, _ pipe: TestPipe) throws -> InputEventButton {
        let fd = FileDescriptor(rawValue: pipe.readEnd)
        try fd.setNonBlocking()
        let button = try InputEventButton(path: "test-pipe", keyCode: Self.key, clock: harness.clock, logger: harness.log.logger,
                                          open: { () throws(Errno) in fd },
                                          // A pipe has no key state (EVIOCGKEY): this stands in for a key that is up.
                                          keyIsDown: { _, _ in false }, status: { harness.statuses.append($0) })
        try button.start { edge, at in harness.edges.append(Edge(edge: edge, at: at)) }
        return button
    }

    @Test func pressAndReleaseAreEdgesAutorepeatOtherKeysAndSyncAreNot() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try pipeButton(harness, pipe)
        defer { button.stop() }

        // Noise first: a sync, an autorepeat with no press before it, another key, a scan-code report.
        try pipe.write(RawRecord.sync + RawRecord.key(Self.key, 2) + RawRecord.key(28, 1) + RawRecord.key(28, 0)
            + RawRecord.inputEvent(type: RawRecord.EV_MSC, code: 4, value: Int32(Self.key)) + RawRecord.sync)
        #expect(harness.statuses.wait { _ in harness.handledRecords() == 6 })
        #expect(harness.edges.all.isEmpty)

        harness.clock.advance(by: .milliseconds(100))
        try pipe.write(RawRecord.key(Self.key, 1) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 1 })
        // Held: the driver repeats; the hold is timed by the core, so repeats are no edges.
        try pipe.write(RawRecord.key(Self.key, 2) + RawRecord.sync + RawRecord.key(Self.key, 2) + RawRecord.sync)
        #expect(harness.statuses.wait { _ in harness.handledRecords() == 12 })
        harness.clock.advance(by: .milliseconds(2500))
        try pipe.write(RawRecord.key(Self.key, 0) + RawRecord.sync)
        #expect(harness.edges.wait { $0.count == 2 })

        #expect(harness.edges.all == [Edge(edge: .pressed, at: .milliseconds(100)),
                                      Edge(edge: .released, at: .milliseconds(2600))])
    }

    @Test func aRecordSplitAcrossWritesIsDecodedOnceWhole() throws {
        let harness = Harness()
        let pipe = try TestPipe()
        let button = try pipeButton(harness, pipe)
        defer { button.stop() }

        let press = RawRecord.key(Self.key, 1)
        try pipe.write(Array(press[..<10]))
        #expect(harness.statuses.wait { _ in harness.reads() == 1 })
        #expect(harness.handledRecords() == 0)
        #expect(harness.edges.all.isEmpty)

        // The rest of the press, then a release cut one byte short of its end.
        let release = RawRecord.key(Self.key, 0)
        try pipe.write(Array(press[10...]) + Array(release[..<23]))
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.statuses.wait { _ in harness.reads() == 2 })
        #expect(harness.edges.all.map(\.edge) == [.pressed])

        try pipe.write([release[23]])
        #expect(harness.edges.wait { $0.count == 2 })
        #expect(harness.edges.all.map(\.edge) == [.pressed, .released])
        // Exactly two records came out of the three writes (the status follows the edge it produced).
        #expect(harness.statuses.wait { _ in harness.reads() == 3 })
        #expect(harness.handledRecords() == 2)
    }

    @Test func aVanishedDeviceIsReportedOnceAndReopenedWithBackoffOnTheClock() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/gpio-keys-event"
        #expect(mkfifo(path, 0o600) == 0)
        // The test's end is opened read-write: it never blocks, and it is the FIFO's writer until closed.
        var writer = open(path, O_RDWR | O_NONBLOCK)
        #expect(writer >= 0)

        let harness = Harness()
        let button = try InputEventButton(path: path, keyCode: Self.key, clock: harness.clock, logger: harness.log.logger,
                                          open: InputEventButton.opener(path), status: { harness.statuses.append($0) })
        try button.start { edge, at in harness.edges.append(Edge(edge: edge, at: at)) }
        defer { button.stop() }
        #expect(harness.statuses.wait { $0.contains(.opened) })
        let press = RawRecord.key(Self.key, 1) + RawRecord.sync
        #expect(write(writer, press, press.count) == press.count)
        #expect(harness.edges.wait { $0.count == 1 })

        // The device goes away: end of file on the FIFO, the node removed as udev would.
        close(writer)
        unlink(path)
        #expect(harness.statuses.wait { $0.contains(where: Self.isLost) })
        #expect(harness.clock.deadlines == [.milliseconds(500)])
        #expect(harness.log.count(level: .warning, containing: "device lost") == 1)

        // Nothing happens before the retry is due; then one attempt, which fails and doubles the wait.
        harness.clock.advance(by: .milliseconds(499))
        #expect(harness.count(Self.isOpenFailed) == 0)
        harness.clock.advance(by: .milliseconds(1))
        #expect(harness.statuses.wait { $0.contains(where: Self.isOpenFailed) })
        #expect(harness.clock.deadlines == [.milliseconds(1500)])
        harness.clock.advance(by: .milliseconds(1000))
        #expect(harness.statuses.wait { $0.filter(Self.isOpenFailed).count == 2 })
        #expect(harness.clock.deadlines == [.milliseconds(3500)])

        // The device is back: the next attempt opens it and edges flow again.
        #expect(mkfifo(path, 0o600) == 0)
        writer = open(path, O_RDWR | O_NONBLOCK)
        defer { close(writer) }
        harness.clock.advance(by: .milliseconds(2000))
        #expect(harness.statuses.wait { $0.filter(Self.isOpened).count == 2 })
        let release = RawRecord.key(Self.key, 0) + RawRecord.sync
        #expect(write(writer, release, release.count) == release.count)
        #expect(harness.edges.wait { $0.count == 2 })
        #expect(harness.edges.all.map(\.edge) == [.pressed, .released])
        #expect(harness.edges.all.last?.at == .milliseconds(3500))

        // Reported once: one warning for the whole outage, one notice when it ended.
        #expect(harness.log.lines.all.filter { $0.level >= .warning }.count == 1)
        #expect(harness.log.count(level: .notice, containing: "available again") == 1)
        #expect(harness.clock.pendingCount == 0)
    }

    @Test func keyNamesAndNumbers() {
        #expect(KeyCode.parse("KEY_PROG1") == 148)
        #expect(KeyCode.parse("KEY_ENTER") == 28)
        #expect(KeyCode.parse("KEY_POWER") == 116)
        #expect(KeyCode.parse("KEY_F13") == 183)
        #expect(KeyCode.parse("KEY_F24") == 194)
        #expect(KeyCode.parse("BTN_0") == 256)
        #expect(KeyCode.parse("148") == 148)
        #expect(KeyCode.parse("KEY_NOPE") == nil)
        #expect(KeyCode.parse("0") == nil)
        #expect(KeyCode.parse("70000") == nil)
    }
}
