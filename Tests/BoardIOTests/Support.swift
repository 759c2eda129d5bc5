import AlarmCore
import Dispatch
import Glibc
import HAL
import Logging
@testable import BoardIO
import Synchronization

/// A clock that moves only when the test advances it; due timers run on the test's thread, in deadline order.
/// (SimBackends has one too; this test target does not depend on the simulators.)
final class TestClock: Clock {
    private struct Timer {
        var id: Int
        var deadline: Instant
        var action: @Sendable () -> Void
    }

    private struct State {
        var now = Instant.origin
        var timers: [Timer] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    func now() -> Instant { state.withLock { $0.now } }
    func wallTime() -> WallTime { WallTime(millisecondsSince1970: 1_795_000_000_000 + now().milliseconds) }

    func schedule(at deadline: Instant, _ action: @escaping @Sendable () -> Void) -> any Cancellable {
        let id = state.withLock { state in
            state.nextID += 1
            state.timers.append(Timer(id: state.nextID, deadline: deadline, action: action))
            return state.nextID
        }
        return Token(clock: self, id: id)
    }

    func advance(by duration: Duration) {
        let target = now() + duration
        while true {
            let due = state.withLock { state -> Timer? in
                let ready = state.timers.filter { $0.deadline <= target }
                guard let first = ready.min(by: { ($0.deadline, $0.id) < ($1.deadline, $1.id) }) else {
                    state.now = max(state.now, target)
                    return nil
                }
                state.timers.removeAll { $0.id == first.id }
                state.now = max(state.now, first.deadline)
                return first
            }
            guard let due else { return }
            due.action()
        }
    }

    var pendingCount: Int { state.withLock { $0.timers.count } }
    var deadlines: [Instant] { state.withLock { $0.timers.map(\.deadline).sorted() } }

    private struct Token: Cancellable {
        let clock: TestClock
        let id: Int
        func cancel() { clock.state.withLock { $0.timers.removeAll { $0.id == id } } }
    }
}

/// Things that happen on another thread, collected; `wait` blocks on a semaphore until a condition holds
/// (a generous deadline, no sleeping, no polling loop).
final class Collected<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    private let changed = DispatchSemaphore(value: 0)

    func append(_ item: Item) {
        items.withLock { $0.append(item) }
        changed.signal()
    }

    var all: [Item] { items.withLock { $0 } }

    func wait(seconds: Int = 10, until condition: ([Item]) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + .seconds(seconds)
        while !condition(all) {
            if changed.wait(timeout: deadline) == .timedOut { return condition(all) }
        }
        return true
    }
}

/// Log lines kept for assertions.
final class LogCapture: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var text: String
    }

    let lines = Collected<Line>()

    var logger: Logger { Logger(label: "board-io-test") { _ in Handler(capture: self) } }

    func count(level: Logger.Level, containing text: String) -> Int {
        lines.all.filter { $0.level == level && $0.text.contains(text) }.count
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.lines.append(Line(level: event.level, text: "\(event.message) \(merged)"))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A private directory under /tmp, removed with everything in it when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/boardio-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw TestFailure("mkdtemp: errno \(errno)") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { _ = system("rm -rf '\(path)'") }

    func write(_ relative: String, _ text: String) throws {
        let full = path + "/" + relative
        if let slash = full.lastIndex(of: "/") { mkdirs(String(full[..<slash])) }
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TestFailure("open \(full): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw TestFailure("write \(full)") }
    }

    func read(_ relative: String) -> String? {
        guard let file = fopen(path + "/" + relative, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        while case let c = fgetc(file), c != EOF { bytes.append(UInt8(c)) }
        return String(decoding: bytes, as: UTF8.self)
    }

    func remove(_ relative: String) { unlink(path + "/" + relative) }

    private func mkdirs(_ directory: String) {
        var built = ""
        for part in directory.split(separator: "/") {
            built += "/" + part
            mkdir(built, 0o755)
        }
    }
}

/// Kernel records laid out by hand from the header's field order (little-endian, 64-bit): an oracle that
/// does not go through the structs the code under test decodes with.
enum RawRecord {
    static func inputEvent(seconds: Int64 = 1_700, microseconds: Int64 = 250, type: UInt16, code: UInt16, value: Int32) -> [UInt8] {
        bytes(seconds) + bytes(microseconds) + bytes(type) + bytes(code) + bytes(value)
    }

    static let EV_SYN: UInt16 = 0
    static let EV_KEY: UInt16 = 1
    static let EV_MSC: UInt16 = 4

    static func key(_ code: UInt16, _ value: Int32) -> [UInt8] { inputEvent(type: EV_KEY, code: code, value: value) }
    static var sync: [UInt8] { inputEvent(type: EV_SYN, code: 0, value: 0) }

    /// `id` 1 rising, 2 falling.
    static func lineEvent(nanoseconds: UInt64, id: UInt32, offset: UInt32 = 17, sequence: UInt32 = 1) -> [UInt8] {
        bytes(nanoseconds) + bytes(id) + bytes(offset) + bytes(sequence) + bytes(sequence) + [UInt8](repeating: 0, count: 24)
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// A pipe whose write end the test holds.
final class TestPipe: @unchecked Sendable {
    let readEnd: Int32
    private(set) var writeEnd: Int32

    init() throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw TestFailure("pipe: errno \(errno)") }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    func write(_ bytes: [UInt8]) throws {
        guard Glibc.write(writeEnd, bytes, bytes.count) == bytes.count else { throw TestFailure("write: errno \(errno)") }
    }

    func closeWriteEnd() {
        close(writeEnd)
        writeEnd = -1
    }

    deinit { if writeEnd >= 0 { close(writeEnd) } }
}

extension KernelClocks {
    /// The kernel's clocks as a test sees them: CLOCK_MONOTONIC *is* the test clock (as it is SystemClock in
    /// the firmware), CLOCK_REALTIME runs `realtimeOffset` ahead of it.
    static func following(_ clock: TestClock, realtimeOffset: Duration = RawRecord.realtimeOffset) -> KernelClocks {
        KernelClocks(monotonic: { clock.now().sinceOrigin }, realtime: { clock.now().sinceOrigin + realtimeOffset })
    }
}

extension RawRecord {
    /// Where the tests' CLOCK_REALTIME stands when their monotonic clock reads zero (2026-11-14).
    static let realtimeOffset = Duration.seconds(1_795_000_000)

    /// An input event stamped `time` on whatever clock the device is said to use.
    static func key(_ code: UInt16, _ value: Int32, at time: Duration) -> [UInt8] {
        let (seconds, attoseconds) = time.components
        return inputEvent(seconds: seconds, microseconds: attoseconds / 1_000_000_000_000, type: EV_KEY, code: code, value: value)
    }
}
