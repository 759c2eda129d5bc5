import ATModem
import AlarmCore
import HAL

/// Turns the JSON5 tree of a board file into a `Board`, naming the key of every mistake.
enum BoardReader {
    static func read(_ r: inout ConfigReader) throws(BoardError) -> Board {
        let name = try r.required("name", "the board's name, a string") { (r, k) throws(BoardError) in try r.string(k) }
        let kindText = try r.required("kind", "one of \(BoardKind.allCases.map(\.rawValue))") { (r, k) throws(BoardError) in try r.string(k) }
        guard let kind = BoardKind(rawValue: kindText) else {
            throw r.error("kind", "expected one of \(BoardKind.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(kindText)\"")
        }
        var device = try r.required("device", "an object with the device's id") { (r, k) throws(BoardError) in try r.object(k) }
        let deviceID = try device.required("id", "the device id, 1-32 letters, digits or '-'") { (r, k) throws(BoardError) in try r.string(k) }
        guard (1...32).contains(deviceID.count), deviceID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw device.error("id", "expected 1-32 letters, digits or '-', got \"\(deviceID)\"")
        }
        try device.rejectUnknownKeys()

        let silenceText = try r.required("silence", "one of \(SilenceMethod.allCases.map(\.rawValue))") { (r, k) throws(BoardError) in try r.string(k) }
        guard let silence = SilenceMethod(rawValue: silenceText) else {
            throw r.error("silence", "expected one of \(SilenceMethod.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(silenceText)\"")
        }

        var rolesReader = try r.required("roles", "an object mapping roles to port URIs") { (r, k) throws(BoardError) in try r.object(k) }
        var roles: [Role: PortURI] = [:]
        for role in Role.allCases {
            guard let text = try rolesReader.string(role.rawValue) else { continue }
            guard let uri = PortURI(text) else {
                throw rolesReader.error(role.rawValue, "expected a port URI such as \"sim:\" or \"tcp://127.0.0.1:7510\", got \"\(text)\"")
            }
            if uri.scheme == "sim", kind == .device {
                throw rolesReader.error(role.rawValue, "simulated backend \"\(text)\" on a board of kind \"device\" (expected a real port)")
            }
            // Board I/O ports are checked here, so a wrong line number or key name is a board error at load
            // (and in --check), not a failure at assembly on the device.
            _ = try BoardIOPort.parse(uri, role: role, file: r.file)
            roles[role] = uri
        }
        try rolesReader.rejectUnknownKeys()
        if roles[.modemPower] != nil || roles[.modemReset] != nil, let modem = roles[.modem], modem.scheme != "serial" {
            throw rolesReader.error(roles[.modemPower] != nil ? Role.modemPower.rawValue : Role.modemReset.rawValue,
                                    "a modem power or reset line needs a real modem (\"serial:…\"); \"\(modem)\" has its own")
        }
        for role in [Role.button, .position, .modem, .reportLink] where roles[role] == nil {
            throw rolesReader.error(role.rawValue, "missing (every board needs button, position, modem and reportLink)")
        }
        if silence == .amplifierOff, roles[.amplifierEnable] == nil {
            throw rolesReader.error("amplifierEnable", "missing (silence \"amplifier-off\" needs the amplifier's enable line)")
        }
        // The listen-in bridge holds 60 ms: the microphone feeding it hands over periods of at most half that.
        if roles[.voiceOut] != nil, let audio = roles[.audio], audio.scheme == "alsa", let period = audio.query["period"].flatMap({ Int($0) }) {
            let limit = (Int(audio.query["rate"] ?? "8000") ?? 8000) * 3 / 100
            if period > limit {
                throw rolesReader.error(Role.audio.rawValue, "period: with roles.voiceOut at most \(limit) frames (30 ms): the listen-in bridge holds 60 ms")
            }
        }

        let storage = try r.required("storage", "a directory path for persistent state") { (r, k) throws(BoardError) in try r.string(k) }
        let control = try r.required("controlSocket", "a path for the local control socket") { (r, k) throws(BoardError) in try r.string(k) }
        let storageKey: String
        if let path = try r.string("storageKey") {
            storageKey = path
        } else if kind == .device {
            throw r.error("storageKey", "missing (a device board names its provisioned storage key file)")
        } else {
            storageKey = storage.hasSuffix("/") ? storage + "storage.key" : storage + "/storage.key"
        }

        var alarm = AlarmSettings()
        if var a = try r.object("alarm") {
            try readAlarm(&a, into: &alarm)
            try a.rejectUnknownKeys()
        }
        if alarm.centreNumbers.isEmpty {
            throw BoardError(file: r.file, key: "alarm.centreNumbers", problem: "missing (expected at least one centre number)")
        }

        var haptics = Haptics()
        if var h = try r.object("haptics") {
            if let p = try h.integers("alarmRaised", in: 1...5000) { haptics.alarmRaised = VibrationPattern(p) }
            if let p = try h.integers("delivered", in: 1...5000) { haptics.delivered = VibrationPattern(p) }
            try h.rejectUnknownKeys()
            if haptics.alarmRaised == haptics.delivered {
                throw h.error("delivered", "must differ from alarmRaised (the wearer must be able to tell them apart)")
            }
        }

        var data: DataSettings?
        if var d = try r.object("data") {
            data = try readData(&d)
            try d.rejectUnknownKeys()
        }

        var reporting: ReportingSettings?
        if var rep = try r.object("reporting") {
            reporting = try readReporting(&rep, kind: kind)
            try rep.rejectUnknownKeys()
        }
        if alarm.smsFallbackNumber != nil, reporting?.smsKeyFile == nil, reporting?.smsFormat != "plain", kind != .simulator {
            throw BoardError(file: r.file, key: "reporting.smsKeyFile",
                             problem: "missing (alarm.smsNumber is set and fallback SMS are sealed by default; or say reporting.smsFormat: \"plain\")")
        }
        if let link = roles[.reportLink], link.scheme.hasPrefix("dc09"), reporting == nil {
            throw r.error("reporting", "missing (a DC-09 report link needs the account, and the key file unless the board is a simulator that says encryption: \"none\")")
        }

        var evidence: EvidenceSettings?
        if var e = try r.object("evidence") {
            let centre = try e.required("centreKeyFile", "the receiving centre's public key file (64 hex digits)") { (r, k) throws(BoardError) in try r.string(k) }
            var settings = EvidenceSettings(centreKeyFile: centre)
            settings.signingKeyFile = try e.string("signingKeyFile")
            if settings.signingKeyFile == nil, kind != .simulator {
                throw e.error("signingKeyFile", "missing (a device board names its provisioned evidence signing key)")
            }
            if let v = try e.duration("preTrigger", minimum: .zero), v <= .seconds(120) { settings.preTrigger = v }
            if let v = try e.duration("chunk", minimum: .seconds(1)) { settings.chunk = v }
            if let v = try e.integer("storageLimitMB", in: 1...4096) { settings.storageLimitMB = v }
            try e.rejectUnknownKeys()
            evidence = settings
        }

        var testPort: TestPortSettings?
        if var t = try r.object("testPort") {
            testPort = try readTestPort(&t, kind: kind)
            try t.rejectUnknownKeys()
        }

        // The bundle's path: ProvisionedBoard reads, verifies and lays it over this file before this reader runs.
        let bundlePath = try r.string("provisioning")

        var simulation = SimulationSettings()
        if var s = try r.object("simulation") {
            if kind == .device { throw r.error("simulation", "not allowed on a board of kind \"device\"") }
            try readSimulation(&s, into: &simulation)
            try s.rejectUnknownKeys()
        }
        try r.rejectUnknownKeys()

        let board = Board(file: r.file, name: name, kind: kind, deviceID: deviceID, silence: silence, roles: roles,
                          storagePath: storage, storageKeyPath: storageKey, controlSocketPath: control, alarm: alarm, haptics: haptics,
                          simulation: simulation, data: data, reporting: reporting, evidence: evidence, testPort: testPort,
                          provisioningBundlePath: bundlePath)
        // Options that weaken the protection are refused on device boards, each with its key (DevicePolicy.swift).
        try DevicePolicy.check(board)
        return board
    }

    /// Modbus has no authentication: the test port exists only on simulator and HIL boards, only when asked for.
    static func readTestPort(_ t: inout ConfigReader, kind: BoardKind) throws(BoardError) -> TestPortSettings {
        let text = try t.required("listen", "\"tcp://127.0.0.1:1502\" or \"rtu:/dev/ttyAMA1?baud=115200&unit=1\"") { (r, k) throws(BoardError) in try r.string(k) }
        guard kind != .device else {
            throw t.error("listen", "a Modbus test port has no authentication: only boards of kind \"simulator\" or \"hil\" may enable it (this board is a \"device\")")
        }
        guard let uri = PortURI(text) else { throw t.error("listen", "expected \"tcp://HOST:PORT\" or \"rtu:DEVICE?baud=N&unit=N\", got \"\(text)\"") }
        var settings: TestPortSettings
        switch uri.scheme {
        case "tcp":
            guard let (host, port) = uri.hostAndPort else { throw t.error("listen", "expected \"tcp://HOST:PORT\", got \"\(text)\"") }
            settings = TestPortSettings(endpoint: .tcp(host: host, port: port))
        case "rtu":
            guard uri.target.hasPrefix("/"), let baud = Int32(uri.query["baud"] ?? "115200"), baud > 0,
                  let unit = Int32(uri.query["unit"] ?? "1"), (1...247).contains(unit) else {
                throw t.error("listen", "expected \"rtu:/dev/DEVICE?baud=N&unit=1..247\", got \"\(text)\"")
            }
            settings = TestPortSettings(endpoint: .rtu(device: uri.target, baud: baud, unit: unit))
        default:
            throw t.error("listen", "expected \"tcp://HOST:PORT\" or \"rtu:DEVICE?baud=N&unit=N\", got \"\(text)\"")
        }
        settings.pressInjection = try t.bool("pressInjection") ?? false
        settings.positions = try t.bool("positions") ?? true
        return settings
    }

    static func readReporting(_ r: inout ConfigReader, kind: BoardKind) throws(BoardError) -> ReportingSettings {
        func hex(_ key: String, _ lengths: ClosedRange<Int>, required: Bool) throws(BoardError) -> String? {
            guard let value = try r.string(key) else {
                if required { throw r.error(key, "missing (\(lengths.lowerBound)-\(lengths.upperBound) hex digits)") }
                return nil
            }
            guard lengths.contains(value.count), value.allSatisfy({ $0.isASCII && $0.isHexDigit }) else {
                throw r.error(key, "expected \(lengths.lowerBound)-\(lengths.upperBound) hex digits, got \"\(value)\"")
            }
            return value
        }
        let account = try hex("account", 3...16, required: true)!
        let prefix = try hex("prefix", 1...6, required: true)!
        var settings = ReportingSettings(prefix: prefix, account: account)
        settings.receiver = try hex("receiver", 1...6, required: false)
        if let format = try r.string("format") {
            guard format == "SIA-DCS" || format == "ADM-CID" else {
                throw r.error("format", "expected \"SIA-DCS\" or \"ADM-CID\", got \"\(format)\"")
            }
            settings.format = format
        }
        let encryption = try r.string("encryption") ?? "aes"
        switch encryption {
        case "aes":
            guard let file = try r.string("keyFile") else {
                throw r.error("keyFile", "missing (encryption is on by default: name the device's own DC-09 key file)")
            }
            settings.keyFile = file
        case "none":
            guard kind == .simulator else {
                throw r.error("encryption", "\"none\" is only allowed on a simulator board; alarm data is a victim's location")
            }
        default:
            throw r.error("encryption", "expected \"aes\" or \"none\", got \"\(encryption)\"")
        }
        if let encoding = try r.string("keyEncoding") {
            guard encoding == "ascii-hex" || encoding == "binary-hex" else {
                throw r.error("keyEncoding", "expected \"ascii-hex\" or \"binary-hex\", got \"\(encoding)\"")
            }
            settings.keyEncoding = encoding
        }
        settings.smsKeyFile = try r.string("smsKeyFile")
        if let format = try r.string("smsFormat") {
            guard format == "sealed" || format == "plain" else {
                throw r.error("smsFormat", "expected \"sealed\" or \"plain\", got \"\(format)\"")
            }
            settings.smsFormat = format
        }
        if settings.smsFormat == "sealed", settings.smsKeyFile == nil, kind != .simulator {
            throw r.error("smsKeyFile", "missing (fallback SMS are sealed by default: name the device's SMS key file, or say smsFormat: \"plain\")")
        }
        if let text = try r.string("supervision"), text == "off" {
            settings.supervisionInterval = nil
        } else if let interval = try r.duration("supervision", minimum: .seconds(10)) {
            settings.supervisionInterval = interval
        }
        if let text = try r.string("secondary") {
            guard let uri = PortURI(text), uri.scheme == "dc09+tcp" || uri.scheme == "dc09+udp", uri.hostAndPort != nil else {
                throw r.error("secondary", "expected dc09+tcp://HOST:PORT or dc09+udp://HOST:PORT, got \"\(text)\"")
            }
            settings.secondary = uri
        }
        return settings
    }

    static func readData(_ d: inout ConfigReader) throws(BoardError) -> DataSettings {
        let apn = try d.required("apn", "the access point name, e.g. \"internet.proximus.be\"") { (r, k) throws(BoardError) in try r.string(k) }
        guard (1...100).contains(apn.utf8.count), apn.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) else {
            throw d.error("apn", "expected letters, digits, '.' and '-', got \"\(apn)\"")
        }
        var call = DataCallSettings(apn: apn)
        if let text = try d.string("path"), text != "interface" {
            throw d.error("path", text == "modem-stack"
                ? "the modem's internal TCP/IP stack is not supported yet; use \"interface\" (the modem's USB network interface)"
                : "expected \"interface\", got \"\(text)\"")
        }
        if let text = try d.string("auth") {
            guard let auth = DataCallSettings.Authentication(rawValue: text) else {
                throw d.error("auth", "expected one of none, pap, chap, got \"\(text)\"")
            }
            call.authentication = auth
        }
        if let text = try d.string("pdpType") {
            guard let type = DataCallSettings.PDPType(rawValue: text.uppercased()) else {
                throw d.error("pdpType", "expected one of IP, IPV6, IPV4V6, got \"\(text)\"")
            }
            call.pdpType = type
        }
        if let cid = try d.integer("cid", in: 1...15) { call.cid = cid }
        if let text = try d.string("activation") {
            guard let activation = DataCallSettings.Activation(rawValue: text) else {
                throw d.error("activation", "expected \"3gpp\" (AT+CGACT) or \"vendor\" (the modem profile's data-call command), got \"\(text)\"")
            }
            call.activation = activation
        }
        call.user = try d.string("user")
        let passwordFile = try d.string("passwordFile")
        if call.authentication != .none, call.user == nil || passwordFile == nil {
            throw d.error(call.user == nil ? "user" : "passwordFile", "missing (auth \"\(call.authentication.rawValue)\" needs user and passwordFile)")
        }
        var settings = DataSettings(call: call, passwordFile: passwordFile)
        if let name = try d.string("interface") {
            guard (1...15).contains(name.utf8.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw d.error("interface", "expected a network interface name such as \"wwan0\" (1-15 characters), got \"\(name)\"")
            }
            settings.interface = name
        }
        if let text = try d.string("dataDuringCalls") {
            guard let policy = DataDuringCalls(rawValue: text) else {
                throw d.error("dataDuringCalls", "expected one of \(DataDuringCalls.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            settings.dataDuringCalls = policy
        }
        return settings
    }

    static func phoneNumbers(_ r: inout ConfigReader, _ key: String) throws(BoardError) -> [String]? {
        guard let numbers = try r.strings(key) else { return nil }
        for (index, number) in numbers.enumerated() {
            let digits = number.hasPrefix("+") ? number.dropFirst() : Substring(number)
            guard (2...20).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw r.error("\(key)[\(index)]", "expected a phone number such as \"+3292000101\", got \"\(number)\"")
            }
        }
        return numbers
    }

    static func readAlarm(_ a: inout ConfigReader, into s: inout AlarmSettings) throws(BoardError) {
        if let v = try a.duration("triggerHold", minimum: .milliseconds(300)) { s.triggerHold = v }
        if let v = try phoneNumbers(&a, "centreNumbers") { s.centreNumbers = v }
        if let v = try phoneNumbers(&a, "callbackNumbers") { s.callbackNumbers = v }
        if let v = try a.string("emergencyNumber") {
            guard (2...6).contains(v.count), v.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw a.error("emergencyNumber", "expected a short emergency number such as \"112\", got \"\(v)\"")
            }
            s.emergencyNumber = v
        }
        if let v = try a.duration("emergencyFallbackAfter") { s.emergencyFallbackAfter = v }
        if let v = try a.duration("callSetupTimeout", minimum: .seconds(5)) { s.callSetupTimeout = v }
        if let v = try a.duration("redialInitialDelay") { s.redialInitialDelay = v }
        if let v = try a.duration("redialMaxDelay") { s.redialMaxDelay = v }
        if let v = try a.duration("reportAckTimeout", minimum: .milliseconds(100)) { s.reportAckTimeout = v }
        if let v = try a.duration("reportRetryInitialDelay") { s.reportRetryInitialDelay = v }
        if let v = try a.duration("reportRetryMaxDelay") { s.reportRetryMaxDelay = v }
        if let v = try a.string("smsNumber") {
            let digits = v.hasPrefix("+") ? v.dropFirst() : Substring(v)
            guard (2...20).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw a.error("smsNumber", "expected the centre's SMS number such as \"+3292000199\", got \"\(v)\"")
            }
            s.smsFallbackNumber = v
        }
        if let v = try a.duration("positionSMSInterval", minimum: .seconds(10)) { s.positionSMSInterval = v }
        if let v = try a.duration("smsFallbackAfter", minimum: .seconds(1)) { s.smsFallbackAfter = v }
        if let text = try a.string("periodicTest"), text == "off" {
            s.periodicTestInterval = nil
        } else if let v = try a.duration("periodicTest", minimum: .seconds(60)) {
            s.periodicTestInterval = v
        }
        if let v = try a.duration("modemTroubleAfter", minimum: .seconds(10)) { s.modemTroubleAfter = v }
        if let v = try a.duration("gnssTroubleAfter", minimum: .seconds(60)) { s.gnssTroubleAfter = v }
        if let v = try a.duration("buttonTroubleAfter", minimum: .seconds(1)) { s.buttonTroubleAfter = v }
        if let v = try a.integer("batteryLowPercent", in: 1...90) { s.batteryLowPercent = v }
        if let v = try a.integer("batteryCriticalPercent", in: 1...50) { s.batteryCriticalPercent = v }
        if s.batteryCriticalPercent >= s.batteryLowPercent {
            throw a.error("batteryCriticalPercent", "must be below batteryLowPercent (\(s.batteryLowPercent))")
        }
        if let v = try a.duration("trackingInterval", minimum: .seconds(1)) { s.trackingInterval = v }
        if let v = try a.duration("trackingDuration", minimum: .seconds(1)) { s.trackingDuration = v }
        if let v = try a.duration("callbackWindow", minimum: .zero) { s.callbackWindow = v }
        if let v = try a.duration("fixFreshness") { s.fixFreshness = v }
        if let v = try a.number("fixAccuracyLimit", in: 1...100_000) { s.fixAccuracyLimit = v }
        if var c = try a.object("cancelGesture") {
            let presses = try c.required("presses", "a number of presses, 2-10") { (r, k) throws(BoardError) in try r.integer(k, in: 2...10) }
            let within = try c.required("within", "a duration such as \"3s\"") { (r, k) throws(BoardError) in try r.duration(k) }
            try c.rejectUnknownKeys()
            s.cancelGesture = CancelGesture(presses: presses, within: within)
        }
        if s.redialMaxDelay < s.redialInitialDelay {
            throw a.error("redialMaxDelay", "must not be shorter than redialInitialDelay")
        }
    }

    static func readSimulation(_ s: inout ConfigReader, into sim: inout SimulationSettings) throws(BoardError) {
        if var m = try s.object("modem") {
            if let v = try m.duration("registerAfter", minimum: .zero) { sim.registerAfter = v }
            if let v = try m.duration("answerAfter", minimum: .zero) { sim.answerAfter = v }
            if let text = try m.string("registration") {
                guard let registration = Registration(rawValue: text) else {
                    throw m.error("registration", "expected one of home, roaming, searching, denied, not-registered, got \"\(text)\"")
                }
                sim.registration = registration
            }
            if let v = try m.integer("signal", in: 0...31) { sim.signal = v }
            try m.rejectUnknownKeys()
        }
        if var storage = try s.object("storage") {
            // An SD card's fsync (10–500 ms): every journal write waits this long before it returns.
            if let v = try storage.duration("fsyncDelay", minimum: .zero) { sim.journalFsyncDelay = v }
            try storage.rejectUnknownKeys()
        }
        if var route = try s.object("route") {
            if let points = try route.list("waypoints") {
                var waypoints: [(latitude: Double, longitude: Double)] = []
                for (index, point) in points.enumerated() {
                    guard case .array(let pair) = point, pair.count == 2,
                          case .number(let lat) = pair[0], case .number(let lon) = pair[1],
                          (-90...90).contains(lat), (-180...180).contains(lon) else {
                        throw route.error("waypoints[\(index)]", "expected [latitude, longitude] in degrees, got \(point.description)")
                    }
                    waypoints.append((lat, lon))
                }
                guard !waypoints.isEmpty else { throw route.error("waypoints", "expected at least one waypoint") }
                sim.route.waypoints = waypoints
            }
            if let v = try route.number("speed", in: 0...100) { sim.route.speed = v }
            if let v = try route.number("accuracy", in: 0.5...10_000) { sim.route.accuracy = v }
            if let v = try route.duration("noFixFor", minimum: .zero) { sim.route.noFixFor = v }
            if let v = try route.duration("idleInterval", minimum: .milliseconds(100)) { sim.route.idleInterval = v }
            if let v = try route.duration("alarmInterval", minimum: .milliseconds(100)) { sim.route.alarmInterval = v }
            try route.rejectUnknownKeys()
        }
    }
}
