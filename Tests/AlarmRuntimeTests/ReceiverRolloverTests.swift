import AlarmCore
import AlarmRuntime
import AlarmSimulation
import DC09
import Glibc
import HAL
import LinuxBackends
import Logging
import ModemEmulator
import ModemTestSupport
import PosixIO
import SimBackends
import SimCentre
import SimTools
import Synchronization
import Testing

/// End to end: a real gpsd (gpsfake) replays nmea-route logs whose dates are 1024 weeks early or late, on a board
/// whose emulated modem sends no network time (AT+CCLK? answers Quectel's 2004 default) and on one that does. The
/// device's own clock is three days behind (a Pi that restored its clock at boot, not NTP-synchronised). The
/// receiver (SimCentre's DC-09 receiver) NAKs any timestamp outside 40 s past / 20 s future.
@Suite struct ReceiverRolloverTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var log: String
        var nitz: Bool
        var testDescription: String { "\(log), \(nitz ? "NITZ" : "no NITZ")" }
    }

    static let cases = [
        Case(log: "ghent-rollover-late.nmea", nitz: false), Case(log: "ghent-rollover-late.nmea", nitz: true),
        Case(log: "ghent-rollover-early.nmea", nitz: false), Case(log: "ghent-rollover-early.nmea", nitz: true),
    ]
    static let deviceClockBehind: Int64 = 3 * 86_400_000

    @Test(arguments: cases) func reportsAreDatedByTheDeviceWithinSecondsOfTheTruth(_ c: Case) throws {
        try #require(GPSFake.isAvailable, Comment(rawValue: GPSFake.unavailableMessage))
        let log = try rebasedLog(GPSFake.fixture(c.log))
        defer { unlink(log) }
        let fake = try GPSFake.start(log: log, cycleSeconds: 0.166)  // about one epoch a second
        defer { fake.stop() }
        #expect(fake.waitUntilListening(seconds: 10))

        let key = "00112233445566778899AABBCCDDEEFF"
        let keyPath = "/tmp/alarm-rollover-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).key"
        let fd = open(keyPath, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        _ = key.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        defer { unlink(keyPath) }
        let received = Collector<DC09Receiver.Received>()
        let receiver = try DC09Receiver(accounts: ["A1234": try DC09Key(text: key, encoding: .binaryHex)]) { received.append($0) }
        receiver.start()
        defer { receiver.stop() }

        let text = """
            { name: "t", kind: "simulator", device: { id: "BE-T-1" }, silence: "no-speaker",
              roles: { button: "sim:", position: "gpsd://127.0.0.1:\(fake.port)", modem: "pty:sim",
                       reportLink: "dc09+tcp://127.0.0.1:\(receiver.tcpPort)", },
              storage: "/tmp/alarm-rollover-\(getpid())", controlSocket: "/tmp/x.sock", storageKey: "/tmp/k",
              alarm: { centreNumbers: ["+3292000101"] },
              reporting: { account: "A1234", prefix: "2", receiver: "3", keyFile: "\(keyPath)", keyEncoding: "binary-hex" }, }
            """
        let board = try Board.parse(Array(text.utf8), file: "boards/rollover.json5")
        let logs = Collector<String>()
        let logger = Logger(label: "t", factory: { _ in CapturingLogHandler(messages: logs) })
        let clock = BehindClock(behind: Self.deviceClockBehind)
        let device = try SimulationAssembly.assemble(board, clock: clock, logger: logger, store: InMemoryRecordStore(),
                                                 eventLoop: .dedicated)
        // The network's time is the truth (the emulator's clock is the device's, three days behind).
        device.simulation.emulator?.setNetworkTime(c.nitz ? .nitz : .quectelDefault,
                                                   skew: .milliseconds(Self.deviceClockBehind))
        try device.start()
        defer { device.stop() }

        // A few fixes in, then the alarm.
        #expect(poll(seconds: 20) { device.runtime.coreState.lastFix?.fix.source == .gnss })
        device.simulation.button?.press(holding: .milliseconds(2500))
        #expect(received.waitUntil(seconds: 15) { $0.contains { $0.code == "HA" } }, "\(logs.all.suffix(20))")

        let truth = realNow()
        let alarm = try #require(received.all.first { $0.code == "HA" })
        #expect(alarm.detail["src"] == "G", "\(alarm.detail)")
        // The receiver accepted every frame: its window was met, and no NAK ever came back.
        #expect(!logs.all.contains { $0.contains("NAK") || $0.contains("receiver's clock differs") }, "\(logs.all)")
        #expect(received.all.allSatisfy { $0.answer == "ACK" })
        // The fix is dated by the device ([H], SMS and status take it from here): within seconds of the truth.
        let last = try #require(device.runtime.coreState.lastFix)
        let age = (clock.now() - last.receivedAt).milliseconds
        #expect(abs(last.fix.fixTime.millisecondsSince1970 + age - truth) < 3_000,
                "fix time \(CivilTime(millisecondsSince1970: last.fix.fixTime.millisecondsSince1970).iso8601)")
        let status = try #require(device.runtime.status.time)
        #expect(status.first?.contains(c.nitz ? "from network" : "from gnss") == true || status.first?.contains("from gnss") == true,
                "\(status)")
        if !c.nitz {
            #expect(status.contains("network: set aside: modem default clock 2004-01-01 (no network time)"), "\(status)")
        }
        if c.log.contains("late") {
            // gpsd 3.22 passes a 2046 date through: the receiver is reported once as device trouble.
            #expect(received.waitUntil(seconds: 10) { $0.contains { $0.detail["kind"] == "gnss-time-trouble" } })
            #expect(received.all.filter { $0.detail["kind"] == "gnss-time-trouble" }.count == 1)
            #expect(received.all.first { $0.detail["kind"] == "gnss-time-trouble" }?.code == "YX")
            #expect(status.contains { $0.hasPrefix("gnss: ") && $0.contains("corrected by −1024 weeks") }, "\(status)")
        } else {
            // gpsd 3.22 itself corrects a date 1024 weeks early (against the host's clock): nothing to report.
            #expect(!received.all.contains { $0.detail["kind"] == "gnss-time-trouble" })
        }
    }

    func realNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// The committed log with every time and date moved so its first epoch is (the true) now: the ±1024-week shift
    /// it was written with stays. nmea-route's logs start at 2026-11-29T12:00:00Z (true time).
    func rebasedLog(_ path: String) throws -> String {
        let bytes = try #require(try StorageDirectory.readFile(path, limit: 1 << 20))
        let logStart = CivilTime(year: 2026, month: 11, day: 29, hour: 12).millisecondsSince1970 / 1000
        let delta = realNow() / 1000 + 1 - logStart
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var out = ""
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("$"), let star = line.firstIndex(of: "*") else {
                out += line + "\r\n"
                continue
            }
            var fields = line[line.index(after: line.startIndex)..<star].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if ["GPRMC", "GPGGA", "GPGST"].contains(fields[0]), fields[1].count >= 6 {
                let t = Array(fields[1].utf8).map { Int($0) - 48 }
                let hours: Int = t[0] * 10 + t[1]
                let minutes: Int = t[2] * 10 + t[3]
                let seconds: Int = t[4] * 10 + t[5]
                let secondOfDay = Int64(hours * 3600 + minutes * 60 + seconds)
                var day: Int64 = 0
                if fields[0] == "GPRMC" {
                    let d = Array(fields[9].utf8).map { Int($0) - 48 }
                    let year: Int = 2000 + d[4] * 10 + d[5]
                    let month: Int = d[2] * 10 + d[3]
                    let dayOfMonth: Int = d[0] * 10 + d[1]
                    day = CivilTime(year: year, month: month, day: dayOfMonth).millisecondsSince1970 / 1000
                }
                let moved = CivilTime(millisecondsSince1970: (day + secondOfDay + delta) * 1000)
                fields[1] = two(moved.hour) + two(moved.minute) + two(moved.second) + ".00"
                if fields[0] == "GPRMC" { fields[9] = two(moved.day) + two(moved.month) + two(moved.year % 100) }
            }
            let body = fields.joined(separator: ",")
            let sum = body.utf8.reduce(UInt8(0), ^)
            let hex = String(sum, radix: 16, uppercase: true)
            out += "$" + body + "*" + (hex.count < 2 ? "0" : "") + hex + "\r\n"
        }
        let target = "/tmp/alarm-rollover-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).nmea"
        let fd = open(target, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        _ = out.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        return target
    }
}

/// The system's monotonic clock with a wall clock `behind` ms late and no kernel verdict (it is not `SystemClock`):
/// a Pi whose clock was restored at boot and is not NTP-synchronised.
final class BehindClock: Clock, Sendable {
    let base = SystemClock()
    let behind: Int64
    init(behind: Int64) { self.behind = behind }
    func now() -> Instant { base.now() }
    func wallTime() -> WallTime { WallTime(millisecondsSince1970: base.wallTime().millisecondsSince1970 - behind) }
    func schedule(at deadline: Instant, _ action: @escaping @Sendable () -> Void) -> any Cancellable {
        base.schedule(at: deadline, action)
    }
}

struct CapturingLogHandler: LogHandler {
    let messages: Collector<String>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt) {
        messages.append("\(level) \(message) \(metadata ?? [:])")
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func poll(seconds: Double, _ condition: () -> Bool) -> Bool {
        var waited = 0.0
        while waited < seconds {
            if condition() { return true }
            usleep(50_000)
            waited += 0.05
        }
    return condition()
}
