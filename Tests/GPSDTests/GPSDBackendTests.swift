import SimTools
import AlarmCore
import GPSD
import HAL
import LinuxBackends
import Logging
import ModemTestSupport
import PosixIO
import Testing

/// The gpsd backend against a real gpsd replaying NMEA logs (gpsfake). Waits are for events, with deadlines.
@Suite(.serialized) struct GPSDBackendTests {
    let logger = Logger(label: "gpsd-test", factory: { _ in SwiftLogNoOpLogHandler() })

    func source(port: UInt16) -> (GPSDPositionSource, Collector<PositionUpdate>) {
        let updates = Collector<PositionUpdate>()
        let source = GPSDPositionSource(host: "127.0.0.1", port: port, clock: SystemClock(), logger: logger,
                                        silenceLimit: .seconds(2))
        source.setRate(.alarm)
        return (source, updates)
    }

    func fixes(_ updates: [PositionUpdate]) -> [Fix] {
        updates.compactMap { if case .fix(let fix) = $0 { fix } else { nil } }
    }

    @Test func fixesFromARealGpsdMatchTheLog() throws {
        guard GPSFake.isAvailable else {
            Issue.record(Comment(rawValue: GPSFake.unavailableMessage))
            return
        }
        let log = GPSFake.fixture("ghent-short.nmea")
        let fake = try GPSFake.start(log: log, cycleSeconds: 0.02)
        defer { fake.stop() }
        #expect(fake.waitUntilListening(seconds: 10))
        let (source, updates) = source(port: fake.port)
        try source.start { updates.append($0) }
        defer { source.stop() }
        let expected = try RMCLog(path: log)
        // gpsd reports a fix before it has a date (GGA carries only the time of day): such fixes are stamped
        // with the device's clock; the ones with the receiver's time must match the log for that second.
        #expect(updates.waitUntil(seconds: 20) { updates in
            fixes(updates).filter { expected.position(atMillisecondsSince1970: $0.fixTime.millisecondsSince1970) != nil }.count >= 5
        })
        let timed = fixes(updates.all).filter { expected.position(atMillisecondsSince1970: $0.fixTime.millisecondsSince1970) != nil }
        #expect(timed.count >= 5)
        #expect(timed.contains { $0.horizontalAccuracy == 17.1 })
        // A SKY (or GST) after a TPV must not deliver the same fix again.
        let all = fixes(updates.all)
        let repeats = zip(all, all.dropFirst()).filter { $0 == $1 }.count
        #expect(repeats == 0, "\(repeats) fixes delivered twice")
        // SKY: the logs' GSA lists the satellites used in the solution.
        #expect(timed.contains { ($0.satellitesUsed ?? 0) > 0 })
        for fix in timed {
            let position = try #require(expected.position(atMillisecondsSince1970: fix.fixTime.millisecondsSince1970))
            #expect(abs(fix.latitude - position.latitude) < 1e-6)
            #expect(abs(fix.longitude - position.longitude) < 1e-6)
            // gpsd: eph = HDOP 0.9 × 19 m = 17.1; a TPV that gpsd sends before the epoch's GSA has no eph
            // (then epx/epy, or unknown). Never zero.
            let accuracy = fix.horizontalAccuracy
            #expect(accuracy == 17.1 || abs(accuracy - 16.2) < 0.1 || accuracy == .infinity, "accuracy \(accuracy)")
            #expect(fix.source == .gnss)
            if let speed = fix.speed { #expect(abs(speed - 1.4) < 0.01) }
        }
        // The log starts without a fix: the backend said so before the first fix (when gpsd passed it on).
        if let firstLost = updates.all.firstIndex(where: { if case .lost = $0 { true } else { false } }),
           let firstFix = updates.all.firstIndex(where: { if case .fix = $0 { true } else { false } }) {
            #expect(firstLost < firstFix)
        }
    }

    /// Idle, one fix per interval reaches the core and the stream is paused in between: the daemon reads a handful
    /// of reports per interval instead of two per epoch. An alarm resumes the stream at once.
    @Test func idleStreamIsPausedBetweenFixesAndAnAlarmResumesIt() throws {
        guard GPSFake.isAvailable else {
            Issue.record(Comment(rawValue: GPSFake.unavailableMessage))
            return
        }
        // 300 epochs, replayed a sentence per 0.1 s: minutes of log, enough for the idle intervals and the alarm after them.
        let fake = try GPSFake.start(log: GPSFake.fixture("ghent-drive.nmea"), cycleSeconds: 0.1)
        defer { fake.stop() }
        #expect(fake.waitUntilListening(seconds: 10))
        let updates = Collector<PositionUpdate>()
        let source = GPSDPositionSource(host: "127.0.0.1", port: fake.port, clock: SystemClock(), logger: logger,
                                        idleInterval: .seconds(4), silenceLimit: .seconds(2))
        source.setRate(.idle)
        try source.start { updates.append($0) }
        defer { source.stop() }
        #expect(updates.waitUntil(seconds: 20) { fixes($0).count >= 1 })
        let start = source.traffic
        let fixesBefore = fixes(updates.all).count
        // Three more idle fixes: they come an interval apart, and the stream is paused in between.
        let began = SystemTime.monotonicNanoseconds()
        #expect(updates.waitUntil(seconds: 30) { fixes($0).count >= fixesBefore + 3 })
        let seconds = Double(SystemTime.monotonicNanoseconds() - began) / 1e9
        let idle = (reports: source.traffic.reports - start.reports, pauses: source.traffic.pauses - start.pauses)
        #expect(seconds > 7, "three fixes in \(seconds) s at a 4 s idle interval")
        #expect(idle.pauses >= 2, "paused \(idle.pauses) times")
        // Streaming, gpsd sends every report of every epoch (TPV, SKY, GST: several a second here).
        #expect(Double(idle.reports) < seconds * 2, "\(idle.reports) reports read in \(seconds) s while idle")

        source.setRate(.alarm)
        let alarmStart = fixes(updates.all).count
        // gpsfake's cycle is per sentence (four per epoch here): a fix every 0.4 s while streaming, against one per 4 s idle.
        #expect(updates.waitUntil(seconds: 3) { fixes($0).count >= alarmStart + 3 },
                "an alarm gets every fix at once: \(fixes(updates.all).count - alarmStart) fixes in 3 s")
    }

    @Test func gpsdNotRunningThenStartedThenRestarted() throws {
        guard GPSFake.isAvailable else {
            Issue.record(Comment(rawValue: GPSFake.unavailableMessage))
            return
        }
        let probe = try TCP.listen(port: 0)
        let port = probe.port
        try probe.descriptor.close()
        let (source, updates) = source(port: port)
        try source.start { updates.append($0) }
        defer { source.stop() }
        // Nobody listens: "no receiver", and the alarm is never blocked by it.
        #expect(updates.waitUntil(seconds: 5) { $0.contains(.lost(.unavailable)) })

        let log = GPSFake.fixture("ghent-walk.nmea")
        let first = try GPSFake.start(log: log, cycleSeconds: 0.02, port: port)
        #expect(first.waitUntilListening(seconds: 10))
        // The backend reconnects on its own (backoff ≤ 2 s at this point).
        #expect(updates.waitUntil(seconds: 20) { fixes($0).count >= 3 })
        let before = updates.all.count

        first.stop()  // gpsd killed mid-stream
        #expect(updates.waitUntil(seconds: 10) { $0.dropFirst(before).contains { if case .lost = $0 { true } else { false } } })
        let second = try GPSFake.start(log: log, cycleSeconds: 0.02, port: port)
        defer { second.stop() }
        #expect(second.waitUntilListening(seconds: 10))
        let afterRestart = updates.all.count
        #expect(updates.waitUntil(seconds: 40) { fixes(Array($0.dropFirst(afterRestart))).count >= 3 })
    }
}

/// Expected positions from a log's RMC sentences, by UTC time of day.
struct RMCLog {
    var positions: [Int64: (latitude: Double, longitude: Double)] = [:]

    init(path: String) throws {
        let bytes = try #require(try StorageDirectory.readFile(path))
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count > 6, fields[0] == "$GPRMC", fields[2] == "A",
                  let hhmmss = Double(fields[1]) else { continue }
            func degrees(_ text: Substring, _ degreeDigits: Int, _ negative: Bool) -> Double? {
                guard let whole = Double(text.prefix(degreeDigits)), let minutes = Double(text.dropFirst(degreeDigits)) else { return nil }
                return (whole + minutes / 60) * (negative ? -1 : 1)
            }
            guard let lat = degrees(fields[3], 2, fields[4] == "S"), let lon = degrees(fields[5], 3, fields[6] == "W") else { continue }
            let whole = Int64(hhmmss)
            let secondsOfDay = whole / 10000 * 3600 + whole / 100 % 100 * 60 + whole % 100
            positions[secondsOfDay] = (lat, lon)
        }
    }

    func position(atMillisecondsSince1970 ms: Int64) -> (latitude: Double, longitude: Double)? {
        positions[ms / 1000 % 86_400]
    }
}
