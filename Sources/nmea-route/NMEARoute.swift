import ArgumentParser
import Glibc

/// Writes a deterministic NMEA 0183 log of a walk, for replay through
/// gpsfake/gpsd in tests (Tests/Fixtures/*.nmea are generated with it).
@main
struct NMEARoute: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nmea-route",
        abstract: "Write an NMEA 0183 log (RMC, GGA, GSA, GSV, GST once a second) of a walk along fixed waypoints.",
        discussion: """
            The first --no-fix-seconds epochs have no fix (RMC status V, GGA quality 0, GSA mode 1, no satellites, no GST). \
            The walk starts at --start; the walker moves during those epochs too. The output is \
            byte-for-byte deterministic for the same arguments.
            Example: nmea-route --output Tests/Fixtures/ghent-walk.nmea --start 2026-11-29T12:00:00Z \
            --no-fix-seconds 5 --seconds 120 --speed 1.4
            """)

    @Option(help: "File to write (\"-\" for standard output).") var output: String
    @Option(help: "UTC time of the first epoch, YYYY-MM-DDTHH:MM:SSZ.") var start: String
    @Option(help: "Number of epochs (one per second).") var seconds: Int
    @Option(help: "Leading epochs without a fix.") var noFixSeconds = 0
    @Option(help: "Walking speed in metres per second.") var speed = 1.4
    @Option(name: .customLong("waypoint"), parsing: .singleValue,
            help: "LAT,LON in decimal degrees; repeat for each waypoint (default: a walk through Ghent).")
    var waypoints: [String] = []
    @Option(help: """
        Weeks added to every date the receiver writes, the time of day unchanged: -1024 for a receiver \
        whose dates are one GPS week rollover early, 1024 for one 1024 weeks late (gpsd 3.22 on some older \
        receivers). --start stays the true time.
        """)
    var weekShift = 0
    @Flag(help: "Also print each fix epoch as CSV (time,lat,lon,speed m/s,course) with the values as written.")
    var printFixes = false

    func validate() throws {
        guard UTCTime(iso8601: start) != nil else {
            throw ValidationError("--start must look like 2026-11-29T12:00:00Z")
        }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard (0...seconds).contains(noFixSeconds) else {
            throw ValidationError("--no-fix-seconds must be between 0 and --seconds")
        }
        guard speed >= 0, speed.isFinite else { throw ValidationError("--speed must be zero or positive") }
        guard abs(weekShift) <= 4096 else { throw ValidationError("--week-shift must be between -4096 and 4096") }
        _ = try parsedWaypoints()
    }

    func run() throws {
        let start = UTCTime(iso8601: start)!
        let route = Route(waypoints: try parsedWaypoints(), speed: speed)
        var text = "# nmea-route: \(seconds) s from \(start.iso8601), \(noFixSeconds) s without fix, "
            + "\(Text.fixed(speed, 2)) m/s over \(Text.fixed(route.length, 1)) m"
            + (weekShift == 0 ? "" : ", dates shifted by \(weekShift) weeks") + "\r\n"
        var course: Double?
        for second in 0..<seconds {
            let time = UTCTime(epochSeconds: start.epochSeconds + second + weekShift * 7 * 86_400)
            let sample = route.sample(atSecond: Double(second), previousCourse: course)
            course = sample.course
            let fix = second >= noFixSeconds ? sample : nil
            for line in Self.epoch(time: time, fix: fix) {
                text += line + "\r\n"
            }
            if printFixes, let fix {
                print("\(time.iso8601),\(NMEA.roundTripped(fix.position.latitude)),"
                    + "\(NMEA.roundTripped(fix.position.longitude)),\(Text.fixed(fix.speed, 3)),"
                    + "\(fix.course.map { Text.fixed($0, 2) } ?? "")")
            }
        }
        try write(text)
    }

    /// One epoch's sentences, in the order a typical receiver sends them.
    /// RMC opens the cycle (gpsd learns which sentence ends it).
    static func epoch(time: UTCTime, fix: Route.Sample?) -> [String] {
        let hhmmss = NMEA.time(time)
        guard let fix else {
            return [
                NMEA.sentence("GPRMC,\(hhmmss),V,,,,,,,\(NMEA.date(time)),,,N"),
                // Empty DOPs, not the 99.99 many receivers send: gpsd keeps
                // DOPs across epochs, and 99.99 would give the first fix an
                // eph of 1900 m.
                NMEA.sentence("GPGGA,\(hhmmss),,,,,0,00,,,M,,M,,"),
                NMEA.sentence("GPGSA,A,1,,,,,,,,,,,,,,,"),
                NMEA.sentence("GPGSV,1,1,00"),
            ]
        }
        let position = NMEA.latitude(fix.position.latitude) + "," + NMEA.longitude(fix.position.longitude)
        let knots = fix.speed / 0.514444 // 1 knot = 1852 m / 3600 s
        let course = fix.course.map { Text.fixed($0, 2) } ?? ""
        let prns = Receiver.sky.map { Text.padded($0.prn, 2) }
        let used = (prns + Array(repeating: "", count: 12 - prns.count)).joined(separator: ",")
        return [
            NMEA.sentence("GPRMC,\(hhmmss),A,\(position),\(Text.fixed(knots, 3)),\(course),\(NMEA.date(time)),,,A"),
            NMEA.sentence("GPGGA,\(hhmmss),\(position),1,\(Text.padded(Receiver.sky.count, 2)),"
                + "\(Text.fixed(Receiver.hdop, 2)),\(Text.fixed(Receiver.altitude, 1)),M,"
                + "\(Text.fixed(Receiver.geoidSeparation, 1)),M,,"),
            NMEA.sentence("GPGSA,A,3,\(used),\(Text.fixed(Receiver.pdop, 2)),\(Text.fixed(Receiver.hdop, 2)),"
                + "\(Text.fixed(Receiver.vdop, 2))"),
        ] + gsv() + [
            NMEA.sentence("GPGST,\(hhmmss),\(Text.fixed(Receiver.rangeRMS, 1)),\(Text.fixed(Receiver.semiMajor, 1)),"
                + "\(Text.fixed(Receiver.semiMinor, 1)),\(Text.fixed(Receiver.orientation, 1)),"
                + "\(Text.fixed(Receiver.latitudeError, 1)),\(Text.fixed(Receiver.longitudeError, 1)),"
                + "\(Text.fixed(Receiver.altitudeError, 1))"),
        ]
    }

    /// Satellites in view, four per sentence.
    static func gsv() -> [String] {
        let pages = (Receiver.sky.count + 3) / 4
        return (0..<pages).map { page in
            let satellites = Receiver.sky[(page * 4)..<min(page * 4 + 4, Receiver.sky.count)].map {
                "\(Text.padded($0.prn, 2)),\(Text.padded($0.elevation, 2)),\(Text.padded($0.azimuth, 3)),\(Text.padded($0.snr, 2))"
            }
            return NMEA.sentence("GPGSV,\(pages),\(page + 1),\(Text.padded(Receiver.sky.count, 2)),"
                + satellites.joined(separator: ","))
        }
    }

    private func parsedWaypoints() throws -> [Route.Point] {
        guard !waypoints.isEmpty else { return Route.ghent }
        let points = try waypoints.map { text -> Route.Point in
            let parts = text.split(separator: ",")
            guard parts.count == 2, let lat = Double(String(parts[0])), let lon = Double(String(parts[1])),
                  abs(lat) <= 90, abs(lon) <= 180
            else { throw ValidationError("--waypoint \(text): expected LAT,LON in decimal degrees") }
            return Route.Point(latitude: lat, longitude: lon)
        }
        guard points.count >= 2 else { throw ValidationError("give at least two --waypoint values") }
        return points
    }

    private func write(_ text: String) throws {
        if output == "-" {
            print(text, terminator: "")
            return
        }
        let temporary = output + ".tmp"
        guard let file = fopen(temporary, "wb") else {
            throw ValidationError("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = fwrite(bytes, 1, bytes.count, file)
        let closed = fclose(file)
        guard written == bytes.count, closed == 0, rename(temporary, output) == 0 else {
            unlink(temporary)
            throw ValidationError("cannot write \(output): \(String(cString: strerror(errno)))")
        }
    }
}
