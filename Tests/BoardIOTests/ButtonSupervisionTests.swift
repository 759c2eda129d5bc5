@testable import BoardIO
import AlarmCore
import Glibc
import HAL
import PosixIO
import Synchronization
import Testing

/// The supervised buttons: health on open, loss and reopen, and the device's state read back after every open so
/// that an edge missed while the device was gone is delivered. The devices are a FIFO (evdev: vanishes when its
/// writer closes and its node is unlinked) and pipes handed out by an injected opener (GPIO); the key state and the
/// line level, which neither can answer, come from the test.
@Suite struct ButtonSupervisionTests {
    static let key: UInt16 = 148

    struct Edge: Equatable, Sendable {
        var edge: ButtonEdge
        var at: Instant
    }

    /// What the test says the device reads as after an open, and how often it was asked.
    final class DeviceState: Sendable {
        let active = Mutex(false)
        let reads = Mutex(0)

        func set(_ value: Bool) { active.withLock { $0 = value } }

        func read() -> Bool {
            reads.withLock { $0 += 1 }
            return active.withLock { $0 }
        }
    }

    final class Harness: Sendable {
        let clock = TestClock()
        let log = LogCapture()
        let edges = Collected<Edge>()
        let health = Collected<ButtonDeviceHealth>()
        let statuses = Collected<RecordStreamReader.Status>()
        let device = DeviceState()

        func healthKinds() -> [String] {
            health.all.map {
                switch $0 {
                case .opened: "opened"
                case .lost: "lost"
                case .reopened: "reopened"
                }
            }
        }
    }

    /// An input device on a FIFO the test can remove and bring back.
    final class FIFODevice {
        let directory: TemporaryDirectory
        let path: String
        var writer: Int32 = -1

        init() throws {
            directory = try TemporaryDirectory()
            path = directory.path + "/gpio-keys-event"
            try plugIn()
        }

        func plugIn() throws {
            guard mkfifo(path, 0o600) == 0 else { throw TestFailure("mkfifo: errno \(errno)") }
            // Read-write: never blocks, and the test is the FIFO's writer until it closes this end.
            writer = open(path, O_RDWR | O_NONBLOCK)
            guard writer >= 0 else { throw TestFailure("open: errno \(errno)") }
        }

        /// End of file for the reader, and the node gone as udev would remove it.
        func unplug() {
            close(writer)
            writer = -1
            unlink(path)
        }

        func write(_ bytes: [UInt8]) throws {
            guard Glibc.write(writer, bytes, bytes.count) == bytes.count else { throw TestFailure("write: errno \(errno)") }
        }

        deinit { if writer >= 0 { close(writer) } }
    }

    func inputButton(_ harness: Harness, _ device: FIFODevice) throws -> InputEventButton {
        let state = harness.device
        let button = try InputEventButton(
            path: device.path, keyCode: Self.key, clock: harness.clock, logger: harness.log.logger,
            open: InputEventButton.opener(device.path), useMonotonicClock: { _ in },
            keyIsDown: { _, key in
                #expect(key == Self.key)
                return state.read()
            },
            kernelClocks: .following(harness.clock), status: { harness.statuses.append($0) })
        try button.start({ edge, at in harness.edges.append(Edge(edge: edge, at: at)) },
                         health: { health, _ in harness.health.append(health) })
        return button
    }

    static func isLost(_ status: RecordStreamReader.Status) -> Bool { if case .lost = status { true } else { false } }
    static func isOpenFailed(_ status: RecordStreamReader.Status) -> Bool { if case .openFailed = status { true } else { false } }

    func press(at time: Duration) -> [UInt8] { RawRecord.key(Self.key, 1, at: time) + RawRecord.sync }
    func release(at time: Duration) -> [UInt8] { RawRecord.key(Self.key, 0, at: time) + RawRecord.sync }

    @Test func aRemovedAndRestoredDeviceReportsLostOnceAndReopened() throws {
        let harness = Harness()
        let device = try FIFODevice()
        let button = try inputButton(harness, device)
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })
        #expect(harness.healthKinds() == ["opened"])

        device.unplug()
        #expect(harness.health.wait { $0.count == 2 })
        guard case .lost(let reason) = harness.health.all[1] else { throw TestFailure("expected lost, got \(harness.health.all)") }
        #expect(reason.contains("end of file"))
        // Two failed reopens: still one loss.
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.statuses.wait { $0.filter(Self.isOpenFailed).count == 1 })
        harness.clock.advance(by: .milliseconds(1000))
        #expect(harness.statuses.wait { $0.filter(Self.isOpenFailed).count == 2 })
        #expect(harness.healthKinds() == ["opened", "lost"])

        try device.plugIn()
        harness.clock.advance(by: .milliseconds(2000))
        #expect(harness.statuses.wait { $0.filter { $0 == .opened }.count == 2 })
        #expect(harness.healthKinds() == ["opened", "lost", "reopened"])
        #expect(harness.device.reads.withLock { $0 } == 2, "the key state is read after every successful open")
        #expect(harness.edges.all.isEmpty, "released before and after: no edge")
    }

    @Test func aReleaseMissedDuringTheOutageIsDeliveredSoTheNextPressIsNotSwallowed() throws {
        let harness = Harness()
        let device = try FIFODevice()
        let button = try inputButton(harness, device)
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })

        harness.clock.advance(by: .milliseconds(100))
        try device.write(press(at: .milliseconds(100)))
        #expect(harness.edges.wait { $0.count == 1 })
        harness.device.set(true)

        device.unplug()
        #expect(harness.health.wait { $0.count == 2 })
        harness.device.set(false)  // released while nobody could read it
        try device.plugIn()
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.edges.wait { $0.count == 2 })
        // Stamped with the read (no event says when the release happened).
        #expect(harness.edges.all == [Edge(edge: .pressed, at: .milliseconds(100)), Edge(edge: .released, at: .milliseconds(600))])
        #expect(harness.healthKinds() == ["opened", "lost", "reopened"])

        harness.clock.advance(by: .seconds(1))
        try device.write(press(at: .milliseconds(1600)))
        #expect(harness.edges.wait { $0.count == 3 })
        #expect(harness.edges.all.last == Edge(edge: .pressed, at: .milliseconds(1600)))
    }

    @Test func aPressHeldAcrossTheReopenStaysOnePressAndItsReleaseArrives() throws {
        let harness = Harness()
        let device = try FIFODevice()
        let button = try inputButton(harness, device)
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })

        try device.write(press(at: .zero))
        #expect(harness.edges.wait { $0.count == 1 })
        harness.device.set(true)
        device.unplug()
        #expect(harness.health.wait { $0.count == 2 })
        try device.plugIn()
        harness.clock.advance(by: .milliseconds(500))
        // The reopen happened and read the key as held: no new edge. (`opened` follows the read; the health
        // report precedes it.)
        #expect(harness.statuses.wait { $0.filter { $0 == .opened }.count == 2 })
        #expect(harness.device.reads.withLock { $0 } == 2)
        #expect(harness.edges.all == [Edge(edge: .pressed, at: .origin)])

        harness.clock.advance(by: .seconds(2))
        try device.write(release(at: .milliseconds(2500)))
        #expect(harness.edges.wait { $0.count == 2 })
        #expect(harness.edges.all.last == Edge(edge: .released, at: .milliseconds(2500)))
    }

    @Test func aPressMadeWhileTheDeviceWasGoneIsDeliveredAtTheRead() throws {
        let harness = Harness()
        let device = try FIFODevice()
        let button = try inputButton(harness, device)
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })
        device.unplug()
        #expect(harness.health.wait { $0.count == 2 })
        harness.device.set(true)
        try device.plugIn()
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: .milliseconds(500))])
        // The health came first: the runtime hears the button is back before the press read from it.
        #expect(harness.healthKinds() == ["opened", "lost", "reopened"])
    }

    @Test func aKeyHeldAtTheFirstOpenIsAPress() throws {
        let harness = Harness()
        harness.device.set(true)
        let device = try FIFODevice()
        let button = try inputButton(harness, device)
        defer { button.stop() }
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: .origin)])
        #expect(harness.healthKinds() == ["opened"])
    }

    @Test func aDeviceMissingAtStartIsLostUntilItAppears() throws {
        let harness = Harness()
        let device = try FIFODevice()
        device.unplug()
        let button = try inputButton(harness, device)
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })
        #expect(harness.healthKinds() == ["lost"])
        try device.plugIn()
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.health.wait { $0.count == 2 })
        #expect(harness.healthKinds() == ["lost", "opened"])
    }

    // MARK: the key bitmap

    @Test func theKeyBitIsTheKernelsTestBitOnUnsignedLongs() {
        var bitmap = [UInt](repeating: 0, count: InputDevice.keyBitmapWords)
        #expect(InputDevice.keyBitmapWords * UInt.bitWidth >= 0x300, "KEY_MAX 0x2ff and below")
        #expect(!InputDevice.isSet(148, in: bitmap))
        bitmap[148 / UInt.bitWidth] = 1 << UInt(148 % UInt.bitWidth)
        #expect(InputDevice.isSet(148, in: bitmap))
        #expect(!InputDevice.isSet(147, in: bitmap) && !InputDevice.isSet(149, in: bitmap))
        bitmap[0x2ff / UInt.bitWidth] |= 1 << UInt(0x2ff % UInt.bitWidth)
        #expect(InputDevice.isSet(0x2ff, in: bitmap))
        #expect(!InputDevice.isSet(0xffff, in: bitmap), "beyond the bitmap: not held")
    }

    @Test func theKeyStateIoctlOnSomethingNotAnInputDeviceIsATypedError() throws {
        let pipe = try TestPipe()
        #expect(throws: Errno(ENOTTY)) { try InputDevice.isKeyDown(FileDescriptor(rawValue: pipe.readEnd), key: Self.key) }
    }

    @Test func withoutAKeyStateTheButtonSaysSoOnceAndKeepsWorking() throws {
        let harness = Harness()
        let device = try FIFODevice()
        // The real EVIOCGKEY, which a FIFO refuses.
        let button = try InputEventButton(path: device.path, keyCode: Self.key, clock: harness.clock, logger: harness.log.logger,
                                          open: InputEventButton.opener(device.path), useMonotonicClock: { _ in },
                                          kernelClocks: .following(harness.clock))
        try button.start({ edge, at in harness.edges.append(Edge(edge: edge, at: at)) },
                         health: { health, _ in harness.health.append(health) })
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })
        device.unplug()
        #expect(harness.health.wait { $0.count == 2 })
        try device.plugIn()
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.health.wait { $0.count == 3 })
        try device.write(press(at: .milliseconds(500)))
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.log.count(level: .notice, containing: "EVIOCGKEY") == 1)
    }

    // MARK: GPIO line

    /// Hands out a fresh pipe per open, or fails with ENODEV while the test says the chip is gone.
    final class LineDevice: @unchecked Sendable {
        private let lock = Mutex<(pipe: TestPipe?, present: Bool)>((nil, true))

        func open() throws(Errno) -> FileDescriptor {
            let pipe: TestPipe? = lock.withLock { state in
                guard state.present else { return nil }
                let pipe = try? TestPipe()
                state.pipe = pipe
                return pipe
            }
            guard let pipe else { throw Errno(ENODEV) }
            let fd = FileDescriptor(rawValue: pipe.readEnd)
            try fd.setNonBlocking()
            return fd
        }

        func write(_ bytes: [UInt8]) throws { try lock.withLock { $0.pipe }?.write(bytes) }

        /// The chip goes away: end of file on the open line, and reopens fail.
        func remove() {
            lock.withLock { state in
                state.present = false
                state.pipe?.closeWriteEnd()
            }
        }

        func restore() { lock.withLock { $0.present = true } }
    }

    static let ms: UInt64 = 1_000_000

    func lineButton(_ harness: Harness, _ line: LineDevice) throws -> GPIOLineButton {
        let state = harness.device
        var settings = GPIOLineButton.Settings(chip: "/dev/gpiochip0", line: 17)
        settings.debounce = .milliseconds(30)
        let button = try GPIOLineButton(settings: settings, clock: harness.clock, logger: harness.log.logger,
                                        open: { () throws(Errno) in try line.open() }, level: { _ in state.read() },
                                        kernelClocks: .following(harness.clock), status: { harness.statuses.append($0) })
        try button.start({ edge, at in harness.edges.append(Edge(edge: edge, at: at)) },
                         health: { health, _ in harness.health.append(health) })
        return button
    }

    @Test func aLineLostAndRestoredReportsItsHealthAndDeliversTheMissedRelease() throws {
        let harness = Harness()
        let line = LineDevice()
        let button = try lineButton(harness, line)
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })

        // A clean press: accepted once it held for the debounce, stamped with its raw edge.
        harness.clock.advance(by: .milliseconds(100))
        try line.write(RawRecord.lineEvent(nanoseconds: 100 * Self.ms, id: 1))
        #expect(harness.statuses.wait { $0.contains(.handled(records: 1)) })
        harness.clock.advance(by: .milliseconds(30))
        #expect(harness.edges.wait { $0.count == 1 })
        harness.device.set(true)

        line.remove()
        #expect(harness.health.wait { $0.count == 2 })
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.statuses.wait { $0.contains(where: Self.isOpenFailed) })
        #expect(harness.healthKinds() == ["opened", "lost"])

        harness.device.set(false)
        line.restore()
        harness.clock.advance(by: .milliseconds(1000))
        #expect(harness.edges.wait { $0.count == 2 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: .milliseconds(100)), Edge(edge: .released, at: .milliseconds(1630))])
        #expect(harness.healthKinds() == ["opened", "lost", "reopened"])

        // The next press is a press, not a repeat of the one before the outage.
        harness.clock.advance(by: .milliseconds(370))
        try line.write(RawRecord.lineEvent(nanoseconds: 2000 * Self.ms, id: 1))
        #expect(harness.statuses.wait { $0.filter { $0 == .handled(records: 1) }.count == 2 })
        harness.clock.advance(by: .milliseconds(30))
        #expect(harness.edges.wait { $0.count == 3 })
        #expect(harness.edges.all.last == Edge(edge: .pressed, at: .milliseconds(2000)))
    }

    @Test func aLinePressedDuringTheOutageIsDeliveredAndHeldAcrossAReopenIsNot() throws {
        let harness = Harness()
        let line = LineDevice()
        let button = try lineButton(harness, line)
        defer { button.stop() }
        #expect(harness.health.wait { $0.count == 1 })
        line.remove()
        #expect(harness.health.wait { $0.count == 2 })
        harness.device.set(true)
        line.restore()
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.edges.wait { $0.count == 1 })
        #expect(harness.edges.all == [Edge(edge: .pressed, at: .milliseconds(500))])

        // Gone again while held, back still held: the reopen reads it and delivers nothing new.
        line.remove()
        #expect(harness.health.wait { $0.count == 4 })
        line.restore()
        harness.clock.advance(by: .milliseconds(500))
        #expect(harness.statuses.wait { $0.filter { $0 == .opened }.count == 3 })
        #expect(harness.healthKinds() == ["opened", "lost", "reopened", "lost", "reopened"])
        #expect(harness.device.reads.withLock { $0 } == 3)
        #expect(harness.edges.all.count == 1)
    }
}
