import AlarmCore

/// The packet domain of the scripted network: PDP contexts, the vendor data-call commands, IMS, and a network
/// that falls back from LTE to 2G for a call when IMS is off (or serves 2G only), holding data for the call.
struct EmulatedDataState {
    struct Context {
        var type: String
        var apn: String
        var active = false
    }

    var contexts: [Int: Context] = [:]
    var eventReporting = false
    var ims = false
    /// The AcT before a call forced a fallback, restored when the last call ends.
    var accessTechnologyBeforeFallback: Int?
    var suspended = false
    var carrying = false
    var plane: (@Sendable (Bool) -> Void)?
    var activations = 0
}

extension ModemEmulator {
    /// Packet-domain commands; returns false when the command is not one of them.
    func dataCommand(_ body: String, original: String) -> Bool {
        switch body {
        case _ where body.hasPrefix("+CGEREP="):
            state.withLock { $0.data.eventReporting = body.dropFirst(8).hasPrefix("2") || body.dropFirst(8).hasPrefix("1") }
            respond([], final: "OK")
        case _ where body.hasPrefix("+CGDCONT="):
            let fields = Self.fields(String(original.dropFirst(9)))
            guard fields.count >= 3, let cid = Int(fields[0]), (1...15).contains(cid) else {
                respond([], final: error("invalid parameters", code: 50))
                return true
            }
            state.withLock { $0.data.contexts[cid] = EmulatedDataState.Context(type: fields[1], apn: fields[2]) }
            respond([], final: "OK")
        case _ where body.hasPrefix("+CGAUTH="):
            respond([], final: "OK")
        case "+CGACT?":
            let lines = state.withLock { state in
                state.data.contexts.keys.sorted().map { "+CGACT: \($0),\(state.data.contexts[$0]!.active ? 1 : 0)" }
            }
            respond(lines, final: "OK")
        case _ where body.hasPrefix("+CGACT="):
            let fields = body.dropFirst(7).split(separator: ",").map { Int($0) }
            guard fields.count == 2, let on = fields[0], let cid = fields[1] else {
                respond([], final: error("invalid parameters", code: 50))
                return true
            }
            activate(cid: cid, on: on == 1)
        case _ where body.hasPrefix("+QNETDEVCTL="):
            // Quectel ECM: <op>,<cid>,<urc_en>
            let fields = body.dropFirst(12).split(separator: ",").map { Int($0) }
            guard fields.count >= 2, let op = fields[0], let cid = fields[1] else {
                respond([], final: error("invalid parameters", code: 50))
                return true
            }
            activate(cid: cid, on: op == 1)
        case _ where body.hasPrefix("$QCRMCALL="):
            let fields = body.dropFirst(10).split(separator: ",").map { Int($0) }
            guard let action = fields.first ?? nil else {
                respond([], final: error("invalid parameters", code: 50))
                return true
            }
            activate(cid: 1, on: action == 1)
        case _ where body.hasPrefix("+CGPADDR"):
            let cid = Int(body.dropFirst(9)) ?? 1
            let active = state.withLock { $0.data.contexts[cid]?.active ?? false }
            respond(["+CGPADDR: \(cid),\"\(active ? "10.64.\(cid).2" : "0.0.0.0")\""], final: "OK")
        case "+QCFG=\"IMS\",1", "+QCFG=\"IMS\",2", "+QCFG=\"IMS\",0":
            state.withLock { $0.data.ims = body.hasSuffix("1") }
            respond([], final: "OK")
        default:
            return false
        }
        return true
    }

    static func fields(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false)
            .map { String($0).trimmingCharacters.filter { $0 != "\"" } }
    }

    func activate(cid: Int, on: Bool) {
        enum Outcome { case ok, undefined, noService }
        let outcome = state.withLock { state -> Outcome in
            guard state.data.contexts[cid] != nil else { return .undefined }
            if on && !state.settings.registration.isRegistered { return .noService }
            state.data.contexts[cid]?.active = on
            if on { state.data.activations += 1 }
            return .ok
        }
        switch outcome {
        case .undefined: respond([], final: error("invalid parameters", code: 50))
        case .noService: respond([], final: error("no network service", code: 30))
        case .ok:
            respond([], final: "OK")
            updateDataPlane()
        }
    }

    /// The network tears the context down (operator maintenance, a lost bearer): +CGEV tells the modem's host.
    public func deactivateContext(_ cid: Int = 1) {
        let report = state.withLock { state -> Bool in
            state.data.contexts[cid]?.active = false
            return state.data.eventReporting
        }
        if report { send(urc: "+CGEV: NW PDN DEACT \(cid)") }
        updateDataPlane()
    }

    /// The serving cell's technology (27.007 AcT: 0 GSM, 2 UTRAN, 7 E-UTRAN); announced like a cell change.
    public func setAccessTechnology(_ act: Int) {
        state.withLock { $0.settings.accessTechnology = act }
        announceRegistration()
    }

    public func setIMS(_ on: Bool) { state.withLock { $0.data.ims = on } }

    /// Called with true while packet data flows (a context is active and not held for a call), false otherwise;
    /// a test points this at whatever stands in for the modem's network interface.
    public func setDataPlane(_ plane: (@Sendable (Bool) -> Void)?) {
        state.withLock { $0.data.plane = plane; $0.data.carrying = false }
        updateDataPlane()
    }

    public var dataActivations: Int { state.withLock { $0.data.activations } }
    public var dataSuspended: Bool { state.withLock { $0.data.suspended } }
    public var imsEnabled: Bool { state.withLock { $0.data.ims } }
    public func contextActive(_ cid: Int = 1) -> Bool { state.withLock { $0.data.contexts[cid]?.active ?? false } }

    func announceRegistration() {
        let (creg, cereg) = state.withLock { ($0.cregMode > 0, $0.ceregMode > 0) }
        if creg { send(urc: registrationLine("+CREG", solicited: false)) }
        if cereg { send(urc: registrationLine("+CEREG", solicited: false)) }
    }

    /// A call without IMS on LTE falls back to 2G; on 2G (no DTM) data is held for the whole call.
    func voiceCallsChanged() {
        enum Change { case none, fellBack, restored }
        let change = state.withLock { state -> Change in
            let inCall = !state.calls.isEmpty
            let act = state.settings.accessTechnology
            if inCall, !state.data.suspended {
                let lteWithoutIMS = (7...9).contains(act) && !state.data.ims
                let secondGeneration = [0, 1, 3].contains(act)
                guard lteWithoutIMS || secondGeneration else { return .none }
                state.data.suspended = true
                if lteWithoutIMS {
                    state.data.accessTechnologyBeforeFallback = act
                    state.settings.accessTechnology = 0
                    return .fellBack
                }
                return .none
            }
            if !inCall, state.data.suspended {
                state.data.suspended = false
                if let before = state.data.accessTechnologyBeforeFallback {
                    state.settings.accessTechnology = before
                    state.data.accessTechnologyBeforeFallback = nil
                    return .restored
                }
            }
            return .none
        }
        if change != .none { announceRegistration() }
        updateDataPlane()
    }

    func updateDataPlane() {
        let (plane, carrying) = state.withLock { state -> ((@Sendable (Bool) -> Void)?, Bool?) in
            let now = state.powered && state.data.contexts.values.contains(where: \.active) && !state.data.suspended
            guard now != state.data.carrying else { return (nil, nil) }
            state.data.carrying = now
            return (state.data.plane, now)
        }
        if let plane, let carrying {
            note("-- data plane \(carrying ? "carrying" : "held")")
            plane(carrying)
        }
    }
}
