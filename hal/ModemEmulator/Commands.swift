import AlarmCodecs
import AlarmCore

extension ModemEmulator {
    /// One command line from the driver.
    func command(_ raw: String, receivedAt: Instant) {
        let echo = state.withLock { state -> Bool in
            state.commandsSeen += 1
            return state.echo
        }
        note("→ \(raw)")
        if echo { write(Array((raw + "\r").utf8)) }
        // V.250: a modem ignores whatever precedes "AT" on a line (an ESC that cancelled nothing, noise).
        var text = raw.trimmingCharacters
        if let start = text.indices.first(where: { text[$0...].uppercased().hasPrefix("AT") }), start != text.startIndex {
            text = String(text[start...])
        }
        let upper = text.uppercased()
        guard upper.hasPrefix("AT") else {
            respond([], final: "ERROR")
            return
        }
        let body = String(upper.dropFirst(2))
        let original = String(text.dropFirst(2))
        if supplementaryServiceCommand(body, original: original, receivedAt: receivedAt) { return }
        if dataCommand(body, original: original) { return }
        if inboxCommand(body) { return }
        if gnssCommand(body) { return }

        switch body {
        case "": respond([], final: "OK")
        case "E0", "E1":
            state.withLock { $0.echo = body == "E1" }
            respond([], final: "OK")
        case "+CMEE=2", "+CMEE=1", "+CMEE=0":
            state.withLock { $0.verboseErrors = body == "+CMEE=2" }
            respond([], final: "OK")
        case "+CTZU=1", "+CMGF=0", "+COPS=3,2", "+CGREG=2", "+CGREG=0":
            respond([], final: "OK")
        case _ where body.hasPrefix("+QURCCFG"): respond([], final: "OK")
        case "+CLIP=1", "+CLIP=0":
            state.withLock { $0.clip = body == "+CLIP=1" }
            respond([], final: "OK")
        case "+CLCC=1", "+CLCC=0":
            state.withLock { $0.clccURCs = body == "+CLCC=1" }
            respond([], final: "OK")
        case "+CREG=2", "+CREG=1", "+CREG=0":
            state.withLock { $0.cregMode = Int(body.suffix(1)) ?? 0 }
            respond([], final: "OK")
        case "+CEREG=2", "+CEREG=1", "+CEREG=0":
            state.withLock { $0.ceregMode = Int(body.suffix(1)) ?? 0 }
            respond([], final: "OK")
        case _ where body.hasPrefix("+CPIN=\""):
            let given = String(original.dropFirst(7).prefix { $0 != "\"" })
            let accepted = state.withLock { state -> Bool in
                guard let pin = state.settings.simPIN, !state.simUnlocked else { return false }
                if given == pin { state.simUnlocked = true } else { state.wrongPINs += 1 }
                return given == pin
            }
            respond([], final: accepted ? "OK" : error("incorrect password", code: 16))
        case "+CPIN?":
            let (present, locked) = state.withLock { ($0.settings.simPresent, $0.settings.simPIN != nil && !$0.simUnlocked) }
            if present && locked {
                respond(["+CPIN: SIM PIN"], final: "OK")
            } else if present {
                respond(["+CPIN: READY"], final: "OK")
            } else {
                respond([], final: error("SIM not inserted", code: 10))
            }
        case "+CGSN", "+GSN": respond([state.withLock { $0.settings.imei }], final: "OK")
        case "+CIMI":
            let s = state.withLock { $0.settings }
            if s.simPresent { respond([s.imsi], final: "OK") } else { respond([], final: error("SIM not inserted", code: 10)) }
        case "+CCID", "+QCCID", "+CICCID":
            let iccid = state.withLock { $0.settings.iccid }
            let prefix = body == "+CICCID" ? "+ICCID" : body
            respond(["\(prefix): \(iccid)"], final: "OK")
        case "+CREG?": respond([registrationLine("+CREG", solicited: true)], final: "OK")
        case "+CEREG?": respond([registrationLine("+CEREG", solicited: true)], final: "OK")
        case "+CSQ":
            let signal = state.withLock { $0.settings.signal }
            respond(["+CSQ: \(signal),99"], final: "OK")
        case "+COPS?":
            let s = state.withLock { $0.settings }
            if s.registration.isRegistered {
                respond(["+COPS: 0,2,\"\(s.operatorCode)\",\(s.accessTechnology)"], final: "OK")
            } else {
                respond(["+COPS: 0"], final: "OK")
            }
        case "+CCLK?":
            // The network's time (NITZ), as a modem shows it: local time and the zone in quarter hours (+04 = UTC+1).
            // Without NITZ the module's default clock.
            let (mode, skew) = state.withLock { ($0.settings.networkTime, $0.settings.networkTimeSkew) }
            if case .moduleDefault(let value) = mode {
                respond(["+CCLK: \"\(value)\""], final: "OK")
                return
            }
            let local = CivilTime(millisecondsSince1970: clock.wallTime().millisecondsSince1970 + skew.milliseconds + 3_600_000)
            func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
            respond(["+CCLK: \"\(two(local.year % 100))/\(two(local.month))/\(two(local.day)),\(two(local.hour)):\(two(local.minute)):\(two(local.second))+04\""],
                    final: "OK")
        case "+CBC":
            let (percent, charging) = state.withLock { ($0.batteryPercent, $0.charging) }
            respond(["+CBC: \(charging ? 1 : 0),\(percent),\(3300 + percent * 9)"], final: "OK")
        case "+CLCC": respond(callListLines(), final: "OK")
        case "+CEER":
            let (cause, local, style) = state.withLock { ($0.lastCause, $0.lastReleaseWasLocal, $0.settings.ceerStyle) }
            switch style {
            case .generic: respond(["+CEER: \(cause.code),\"\(cause.text)\""], final: "OK")
            case .quectel: respond(["+CEER: \"CC INFO\",\"\(cause.text)\""], final: "OK")
            // Seen on a SIMCom A7672: a local release reads "0 Unknown", the far end's "16 Normal call clearing".
            case .simcom: respond([local ? "+CEER: \"0 Unknown\"" : "+CEER: \"\(cause.code) \(cause.text)\""], final: "OK")
            case .error: respond([], final: "ERROR")
            }
        case "+CMUT=1", "+CMUT=0":
            let muting = body == "+CMUT=1"
            state.withLock { state in
                if muting, !state.calls.isEmpty { state.muteViolations += 1 }
            }
            if muting { note("!! AT+CMUT=1: the microphone was muted — the centre would hear nothing") }
            respond([], final: "OK")
        case "+CFUN=1,1":
            respond([], final: "OK")
            powerCycle()
        // What generic modem libraries ask at connect (python-gsmmodem's connect(), for one); a real module answers.
        case "Z", "Z0", "&F", "&F0", "+CFUN=1": respond([], final: "OK")
        case "+CFUN?": respond(["+CFUN: 1"], final: "OK")
        case "+CGMI", "+GMI": respond(["Quectel"], final: "OK")
        case "+CGMM", "+GMM": respond(["EC25"], final: "OK")
        case "+CGMR", "+GMR": respond(["EC25EFAR06A06M4G"], final: "OK")
        case "+CSCA?": respond(["+CSCA: \"+32475161616\",145"], final: "OK")
        case "A": answer()
        case "H", "H0": hangUpAll(by: "ATH")
        case "+CHUP": hangUpAll(by: "AT+CHUP")
        case "+CHLD=0": releaseWaiting()
        case "+CHLD=2": holdActiveAcceptOther()
        case "+CHLD=1": releaseActiveAcceptOther()
        case _ where body.hasPrefix("+CHLD=1"):
            guard let index = Int(body.dropFirst(7)), (1...7).contains(index) else {
                respond([], final: error("invalid parameters", code: 50))
                return
            }
            releaseCall(index, by: "AT+CHLD=1\(index)")
        case _ where body.hasPrefix("+QHUP="):
            // Quectel: AT+QHUP=<cause>[,<idx>] ends call <idx> (all calls without it) with that release cause.
            let fields = body.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            guard let first = fields.first, let cause = first, (1...127).contains(cause), fields.count <= 2 else {
                respond([], final: error("invalid parameters", code: 50))
                return
            }
            if fields.count == 2 {
                guard let index = fields[1], (0...7).contains(index) else {
                    respond([], final: error("invalid parameters", code: 50))
                    return
                }
                if index != 0 {
                    releaseCall(index, cause: cause, by: "AT+QHUP=\(cause),\(index)")
                    return
                }
            }
            hangUpAll(by: "AT+QHUP=\(body.dropFirst(6))", cause: cause)
        // DTR handling (&D0 ignore, &D1 command mode, &D2 hang up): a pty has no DTR line, so it is only stored.
        case "&D0", "&D1", "&D2", "&D":
            state.withLock { $0.dtrMode = Int(body.dropFirst(2)) ?? 0 }
            respond([], final: "OK")
        case _ where body.hasPrefix("D"): dial(String(original.dropFirst()), receivedAt: receivedAt)
        case _ where body.hasPrefix("+CMGS="):
            guard let length = Int(body.dropFirst(6)) else {
                respond([], final: error("invalid input value", code: 304, sms: true))
                return
            }
            state.withLock { $0.smsPending = length }
            note("← > (prompt)")
            write(Array("\r\n> ".utf8))
        case _ where body.hasPrefix("+QGPS") || body.hasPrefix("+CGPS") || body.hasPrefix("+QPCMV") || body.hasPrefix("+CPCMREG"):
            respond([], final: "OK")
        default:
            respond([], final: "ERROR")
        }
    }

    /// `solicited` answers AT+CxREG? (with <n> first); unsolicited lines have no <n>.
    func registrationLine(_ prefix: String, solicited: Bool) -> String {
        let (s, mode) = state.withLock { ($0.settings, prefix == "+CREG" ? $0.cregMode : $0.ceregMode) }
        let stat = Self.stat(s.registration)
        let location = ",\"\(hex(s.areaCode, 4))\",\"\(hex(s.cellID, 8))\",\(s.accessTechnology)"
        let withCell = mode >= 2 && (s.registration.isRegistered || s.registration == .searching)
        if solicited { return "\(prefix): \(mode),\(stat)" + (withCell ? location : "") }
        return "\(prefix): \(stat)" + (withCell ? location : "")
    }

    static func stat(_ registration: Registration) -> Int {
        switch registration {
        case .notRegistered: 0
        case .home: 1
        case .searching: 2
        case .denied: 3
        case .unknown: 4
        case .roaming: 5
        }
    }

    func hex(_ value: Int, _ width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    func submitSMS(_ body: [UInt8], declaredLength: Int) {
        let hexText = String(decoding: body, as: UTF8.self)
        note("→ \(hexText) <Ctrl-Z>")
        let registered = state.withLock { $0.settings.registration.isRegistered }
        guard registered else {
            respond([], final: error("no network service", code: 331, sms: true))
            return
        }
        do {
            let decoded = try SMSPDU.decodeSubmit(hex: hexText)
            let tpduLength = hexText.count / 2 - 1
            guard tpduLength == declaredLength else {
                note("!! AT+CMGS length \(declaredLength) does not match the TPDU (\(tpduLength) octets)")
                respond([], final: error("invalid PDU mode parameter", code: 304, sms: true))
                return
            }
            let reference = state.withLock { state -> Int in
                state.sentSMS.append(decoded)
                state.messageReference = (state.messageReference + 1) % 256
                return state.messageReference
            }
            respond(["+CMGS: \(reference)"], final: "OK")
        } catch let failure {
            note("!! undecodable PDU: \(failure)")
            respond([], final: error("invalid PDU mode parameter", code: 304, sms: true))
        }
    }
}

extension String {
    var trimmingCharacters: String {
        String(drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}
