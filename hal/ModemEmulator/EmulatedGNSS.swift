import AlarmCore

/// Where the emulated modem's GNSS receiver is, as the control handle sets it.
public struct EmulatedGNSSPosition: Sendable, Hashable {
    public var latitude: Double
    public var longitude: Double
    public var altitude: Double = 30
    public var hdop: Double = 0.9
    public var satellites = 9
    /// Metres per second over ground.
    public var speed: Double = 0
    /// Degrees from true north.
    public var course: Double = 0

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }
}

struct EmulatedGNSSState {
    /// The engine runs (AT+QGPS=1 / AT+CGPS=1); volatile: off again after every power-up.
    var engineOn = false
    /// Nil: the receiver has no fix (indoors, cold start).
    var position: EmulatedGNSSPosition?
    var queries = 0
    var switchedOn = 0
}

/// The modem's own GNSS over AT, in the vendors' shapes: Quectel `AT+QGPS`/`AT+QGPSLOC=2` (mode 2: signed
/// decimal degrees; `+CME ERROR: 505` while off, `516` without a fix), SIMCom `AT+CGPS`/`AT+CGPSINFO`
/// (degrees and minutes with hemisphere letters; every field empty while off or without a fix).
extension ModemEmulator {
    /// Handles the GNSS commands; false for anything else.
    func gnssCommand(_ body: String) -> Bool {
        switch body {
        case "+QGPS=1", "+CGPS=1", "+CGPS=1,1":
            let wasOn = state.withLock { state -> Bool in
                defer { state.gnss.engineOn = true; state.gnss.switchedOn += 1 }
                return state.gnss.engineOn
            }
            // Both refuse to start a session that runs: Quectel with 504, SIMCom with a bare ERROR.
            if wasOn {
                respond([], final: body.hasPrefix("+QGPS") ? error("Session is ongoing", code: 504) : "ERROR")
            } else {
                respond([], final: "OK")
            }
        case "+QGPS=0", "+CGPS=0":
            let wasOn = state.withLock { state -> Bool in
                defer { state.gnss.engineOn = false }
                return state.gnss.engineOn
            }
            respond([], final: wasOn || body == "+CGPS=0" ? "OK" : error("Session not active", code: 505))
        case "+QGPS?":
            respond(["+QGPS: \(state.withLock { $0.gnss.engineOn } ? 1 : 0)"], final: "OK")
        case "+CGPS?":
            respond(["+CGPS: \(state.withLock { $0.gnss.engineOn } ? 1 : 0),1"], final: "OK")
        case "+QGPSLOC=2":
            let (on, position) = reading()
            if !on {
                respond([], final: error("Session not active", code: 505))
            } else if let position {
                respond([quectelLocation(position)], final: "OK")
            } else {
                respond([], final: error("Not fixed now", code: 516))
            }
        case _ where body.hasPrefix("+QGPSLOC"):
            // Other display modes are not emulated.
            respond([], final: error("Invalid parameter", code: 501))
        case "+CGPSINFO":
            let (on, position) = reading()
            respond([on ? position.map(simcomInfo) ?? "+CGPSINFO: ,,,,,,,," : "+CGPSINFO: ,,,,,,,,"], final: "OK")
        default:
            return false
        }
        return true
    }

    private func reading() -> (on: Bool, position: EmulatedGNSSPosition?) {
        state.withLock { state in
            state.gnss.queries += 1
            return (state.gnss.engineOn, state.gnss.position)
        }
    }

    /// `+QGPSLOC: hhmmss.sss,(-)dd.ddddd,(-)ddd.ddddd,hdop,alt,fix,ddd.mm,spkm,spkn,ddmmyy,nsat`
    func quectelLocation(_ p: EmulatedGNSSPosition) -> String {
        let (date, time) = Self.gnssDateAndTime(clock.wallTime(), fractionDigits: 3)
        let courseMinutes = Int((p.course * 60).rounded())
        let cog = "\(courseMinutes / 60).\(Self.padded(courseMinutes % 60, 2))"
        return "+QGPSLOC: \(time),\(Self.fixed(p.latitude, 5)),\(Self.fixed(p.longitude, 5)),\(Self.fixed(p.hdop, 1)),"
            + "\(Self.fixed(p.altitude, 1)),3,\(cog),\(Self.fixed(p.speed * 3.6, 1)),\(Self.fixed(p.speed * 3600 / 1852, 1)),"
            + "\(date),\(Self.padded(p.satellites, 2))"
    }

    /// `+CGPSINFO: ddmm.mmmmmm,N/S,dddmm.mmmmmm,E/W,ddmmyy,hhmmss.s,alt,speed(knots),course`
    func simcomInfo(_ p: EmulatedGNSSPosition) -> String {
        let (date, time) = Self.gnssDateAndTime(clock.wallTime(), fractionDigits: 1)
        return "+CGPSINFO: \(Self.degreesAndMinutes(p.latitude, degreeDigits: 2)),\(p.latitude < 0 ? "S" : "N"),"
            + "\(Self.degreesAndMinutes(p.longitude, degreeDigits: 3)),\(p.longitude < 0 ? "W" : "E"),\(date),\(time),"
            + "\(Self.fixed(p.altitude, 1)),\(Self.fixed(p.speed * 3600 / 1852, 1)),\(Self.fixed(p.course, 1))"
    }

    static func gnssDateAndTime(_ wall: WallTime, fractionDigits: Int) -> (date: String, time: String) {
        let t = CivilTime(millisecondsSince1970: wall.millisecondsSince1970)
        let fraction = String(padded(t.millisecond, 3).prefix(fractionDigits))
        return ("\(padded(t.day, 2))\(padded(t.month, 2))\(padded(t.year % 100, 2))",
                "\(padded(t.hour, 2))\(padded(t.minute, 2))\(padded(t.second, 2)).\(fraction)")
    }

    /// NMEA `ddmm.mmmmmm` (no sign: the hemisphere letter carries it).
    static func degreesAndMinutes(_ angle: Double, degreeDigits: Int) -> String {
        let microMinutes = Int64((abs(angle) * 60 * 1_000_000).rounded())
        let degrees = Int(microMinutes / 60_000_000)
        let rest = microMinutes % 60_000_000
        return "\(padded(degrees, degreeDigits))\(padded(Int(rest / 1_000_000), 2)).\(padded(Int(rest % 1_000_000), 6))"
    }

    /// `value` with exactly `decimals` digits after the point (no Foundation formatting here).
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((abs(value) * Double(scale)).rounded())
        let sign = value < 0 && scaled != 0 ? "-" : ""
        return "\(sign)\(scaled / scale).\(padded(Int(scaled % scale), decimals))"
    }

    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    // MARK: Control handle

    /// The receiver has a fix at this position from now on (until `dropGNSSFix`).
    public func setGNSSPosition(_ position: EmulatedGNSSPosition) {
        state.withLock { $0.gnss.position = position }
        note("-- GNSS fix at \(position.latitude), \(position.longitude)")
    }

    /// The receiver loses its fix (indoors, a tunnel).
    public func dropGNSSFix() {
        state.withLock { $0.gnss.position = nil }
        note("-- GNSS fix lost")
    }

    public var gnssEngineOn: Bool { state.withLock { $0.gnss.engineOn } }
    /// Location queries answered (AT+QGPSLOC=2, AT+CGPSINFO).
    public var gnssQueryCount: Int { state.withLock { $0.gnss.queries } }
    /// Times the driver switched the engine on (AT+QGPS=1, AT+CGPS=1).
    public var gnssSwitchOnCount: Int { state.withLock { $0.gnss.switchedOn } }
}
