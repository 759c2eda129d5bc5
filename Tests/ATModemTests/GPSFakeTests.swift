import SimTools
import Glibc
import ModemTestSupport
import PosixIO
import Testing

/// The GPSFake helper itself: a real gpsd replays Tests/Fixtures/ghent-short.nmea
/// (written by `nmea-route`), and stopping it leaves nothing behind.
@Suite(.serialized) struct GPSFakeTests {
    @Test func replaysFixesThroughGpsdAndStopsCleanly() throws {
        try #require(GPSFake.isAvailable, Comment(rawValue: GPSFake.unavailableMessage))
        let log = GPSFake.fixture("ghent-short.nmea")
        let fake = try GPSFake.start(log: log, cycleSeconds: 0.1)
        defer { fake.stop() }
        try #require(fake.waitUntilListening(seconds: 10), "gpsd did not listen; see \(fake.outputPath)")

        let tpv = try firstTPV(port: fake.port, seconds: 20) { fields in
            (fields["mode"].flatMap(Int.init) ?? 0) >= 2 && fields["time"] != nil
                && fields["lat"] != nil && fields["epx"] != nil
        }
        let report = try #require(tpv, "no TPV with a fix and epx within 20 s; see \(fake.outputPath)")

        // gpsd reports what the log says, to the 1e-6° the fixture is written for.
        let time = try #require(report["time"])
        let expected = try #require(try rmcPosition(in: log, at: time), "no RMC for \(time) in \(log)")
        let lat = try #require(report["lat"].flatMap(Double.init))
        let lon = try #require(report["lon"].flatMap(Double.init))
        #expect(abs(lat - expected.lat) < 1e-6)
        #expect(abs(lon - expected.lon) < 1e-6)
        #expect(report["eph"].flatMap(Double.init) == 17.1, "HDOP 0.9 × gpsd's 19 m")
        #expect(report["epy"] != nil)

        let group = fake.pid
        fake.stop()
        expectNothingLeft(of: fake, group: group)
        fake.stop() // idempotent
    }

    @Test func stopsAGpsfakeThatNoClientEverStarted() throws {
        try #require(GPSFake.isAvailable, Comment(rawValue: GPSFake.unavailableMessage))
        let fake = try GPSFake.start(log: GPSFake.fixture("ghent-short.nmea"))
        try #require(fake.waitUntilListening(seconds: 10), "gpsd did not listen; see \(fake.outputPath)")
        let group = fake.pid
        let started = SystemTime.monotonicNanoseconds()
        fake.stop()
        #expect(SystemTime.monotonicNanoseconds() - started < 3_000_000_000)
        expectNothingLeft(of: fake, group: group)
    }

    @Test func stopsMidReplayWithAClientStillConnected() throws {
        try #require(GPSFake.isAvailable, Comment(rawValue: GPSFake.unavailableMessage))
        let fake = try GPSFake.start(log: GPSFake.fixture("ghent-walk.nmea"), cycleSeconds: 0.05)
        try #require(fake.waitUntilListening(seconds: 10), "gpsd did not listen; see \(fake.outputPath)")
        let client = try TCP.connect(host: "127.0.0.1", port: fake.port, timeoutMilliseconds: 5000)
        defer { try? client.close() }
        try client.sendAll(Array(#"?WATCH={"enable":true,"json":true};"#.utf8), timeoutMilliseconds: 5000)
        var lines = LineReader(client)
        let tpv = try lines.first(seconds: 20) { $0.contains(#""class":"TPV""#) && $0.contains(#""lat":"#) }
        #expect(tpv != nil, "replay did not start; see \(fake.outputPath)")
        let group = fake.pid
        fake.stop()
        expectNothingLeft(of: fake, group: group)
    }

    @Test func findsTheRepositoryAndItsFixtures() {
        let root = GPSFake.repositoryRoot()
        #expect(access(root + "/Package.swift", F_OK) == 0)
        #expect(access(GPSFake.fixture("ghent-walk.nmea"), R_OK) == 0)
        #expect(access(GPSFake.fixture("ghent-short.nmea"), R_OK) == 0)
    }
}

// MARK: - Helpers

private func expectNothingLeft(of fake: GPSFake, group: Int32, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(fake.groupMembers.isEmpty, "processes of gpsfake's group left: \(fake.groupMembers)", sourceLocation: sourceLocation)
    #expect(kill(group, 0) == -1 && errno == ESRCH, "gpsfake \(group) still exists", sourceLocation: sourceLocation)
    #expect(children(of: group).isEmpty, "children of gpsfake left: \(children(of: group))", sourceLocation: sourceLocation)
    let socket = (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/gpsfake-\(group).sock"
    #expect(access(socket, F_OK) != 0, "\(socket) left behind", sourceLocation: sourceLocation)
}

/// PIDs whose parent is `parent` (scanning /proc/PID/stat).
private func children(of parent: Int32) -> [Int32] {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var result: [Int32] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = Int32(name),
              let bytes = try? StorageDirectory.readFile("/proc/\(pid)/stat", limit: 4096),
              let close = bytes.lastIndex(of: UInt8(ascii: ")"))
        else { continue }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        if fields.count > 1, Int32(String(decoding: fields[1], as: UTF8.self)) == parent {
            result.append(pid)
        }
    }
    return result
}

/// Connects, asks gpsd for JSON and returns the top-level fields of the
/// first TPV that satisfies `accept`, or nil at the deadline.
private func firstTPV(port: UInt16, seconds: Double, _ accept: ([String: String]) -> Bool) throws -> [String: String]? {
    let client = try TCP.connect(host: "127.0.0.1", port: port, timeoutMilliseconds: 5000)
    defer { try? client.close() }
    try client.sendAll(Array(#"?WATCH={"enable":true,"json":true};"#.utf8), timeoutMilliseconds: 5000)
    var lines = LineReader(client)
    var found: [String: String]?
    _ = try lines.first(seconds: seconds) { line in
        guard line.contains(#""class":"TPV""#) else { return false }
        let fields = flatJSONFields(line)
        if accept(fields) { found = fields }
        return found != nil
    }
    return found
}

/// Newline-separated lines from a non-blocking socket, waiting with poll(2)
/// against a deadline.
private struct LineReader {
    let descriptor: FileDescriptor
    var buffer: [UInt8] = []

    init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    mutating func first(seconds: Double, where matches: (String) -> Bool) throws -> String? {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(seconds * 1e9)
        while true {
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                if matches(line) { return line }
            }
            let left = deadline - SystemTime.monotonicNanoseconds()
            if left <= 0 { return nil }
            let ready = try descriptor.poll(events: Int16(POLLIN), timeoutMilliseconds: Int32(clamping: left / 1_000_000 + 1))
            if ready == 0 { continue }
            do throws(Errno) {
                let chunk = try descriptor.read(upTo: 16 * 1024)
                if chunk.isEmpty { return nil } // gpsd closed the connection
                buffer.append(contentsOf: chunk)
            } catch where error == .wouldBlock {
                continue
            }
        }
    }
}

/// Top-level scalar fields of one flat JSON object (gpsd's TPV): enough for
/// tests without Foundation. Strings lose their quotes; nested values are skipped.
private func flatJSONFields(_ line: String) -> [String: String] {
    var fields: [String: String] = [:]
    var depth = 0
    var index = line.startIndex
    while index < line.endIndex {
        let character = line[index]
        if character == "{" || character == "[" { depth += 1 }
        if character == "}" || character == "]" { depth -= 1 }
        if character == "\"", depth == 1,
           let keyEnd = line[line.index(after: index)...].firstIndex(of: "\""),
           line.index(after: keyEnd) < line.endIndex, line[line.index(after: keyEnd)] == ":" {
            let key = String(line[line.index(after: index)..<keyEnd])
            let valueStart = line.index(keyEnd, offsetBy: 2)
            if valueStart < line.endIndex, line[valueStart] == "\"" {
                let contentStart = line.index(after: valueStart)
                let contentEnd = line[contentStart...].firstIndex(of: "\"") ?? line.endIndex
                fields[key] = String(line[contentStart..<contentEnd])
                index = contentEnd < line.endIndex ? line.index(after: contentEnd) : contentEnd
            } else if valueStart < line.endIndex, line[valueStart] != "{", line[valueStart] != "[" {
                let valueEnd = line[valueStart...].firstIndex { $0 == "," || $0 == "}" } ?? line.endIndex
                fields[key] = String(line[valueStart..<valueEnd])
                index = valueEnd
            } else {
                index = valueStart
            }
            continue
        }
        index = line.index(after: index)
    }
    return fields
}

/// The position of the RMC sentence whose UTC time matches gpsd's TPV `time`
/// (e.g. "2026-11-29T12:00:04.000Z" ↔ "120004.00").
private func rmcPosition(in path: String, at time: String) throws -> (lat: Double, lon: Double)? {
    let bytes = try #require(try StorageDirectory.readFile(path))
    let clock = time.split(separator: "T").last.map { $0.prefix(8).replacingOccurrences(":", "") } ?? ""
    // isNewline, not == "\n": the log has CRLF, and "\r\n" is one Character.
    for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count > 6, fields[0] == "$GPRMC", fields[1].hasPrefix(clock), fields[2] == "A" else { continue }
        func degrees(_ text: Substring, _ degreeDigits: Int, _ negative: Bool) -> Double? {
            guard let whole = Double(text.prefix(degreeDigits)), let minutes = Double(text.dropFirst(degreeDigits)) else { return nil }
            return (whole + minutes / 60) * (negative ? -1 : 1)
        }
        guard let lat = degrees(fields[3], 2, fields[4] == "S"), let lon = degrees(fields[5], 3, fields[6] == "W") else { return nil }
        return (lat, lon)
    }
    return nil
}

private extension Substring {
    func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        String(map { $0 == target ? replacement : String($0) }.joined())
    }
}
