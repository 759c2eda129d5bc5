import AlarmCore

/// A command the network had to answer, as the emulator saw it: when its carriage return arrived and when
/// the final result went out (nil while the network is still busy with it).
public struct EmulatedRequest: Sendable, Hashable {
    /// The command line as received, e.g. `AT+CCWA=1,0`.
    public var command: String
    public var receivedAt: Instant
    public var answeredAt: Instant?
}

/// Supplementary services (27.007 §7): call waiting, call barring, call forwarding and USSD are carried out
/// by the network, not the module. A real module sends the request and answers only when the network has —
/// 1 to 5 s later — and its single AT channel takes no other command meanwhile (bytes wait in the UART).
/// Commands that only change what the module presents (`AT+CCWA=<n>`, `AT+CUSD=<n>`) answer at once.
extension ModemEmulator {
    static let networkBarringFacilities: Set<String> = ["AO", "OI", "OX", "AI", "IR", "AB", "AG", "AC"]

    /// Returns false when `body` is not a supplementary-service command.
    func supplementaryServiceCommand(_ body: String, original: String, receivedAt: Instant) -> Bool {
        let raw = "AT" + original
        switch body {
        case "+CCWA=?":
            respond(["+CCWA: (0,1)"], final: "OK")
        case "+CCWA?":
            askNetwork(raw, receivedAt: receivedAt) { state in
                (["+CCWA: \(state.ccwaURC ? 1 : 0)"], "OK")
            }
        case _ where body.hasPrefix("+CCWA="):
            // 27.007: +CCWA=<n>[,<mode>[,<class>]]: <n> presents the URC (local), <mode> 0/1 switches the
            // network service, 2 asks the network for its status.
            let fields = body.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            let presentation = fields.first ?? nil
            let mode = fields.count > 1 ? fields[1] : nil
            guard fields.count > 1 else {
                state.withLock { state in if let presentation { state.ccwaURC = presentation == 1 } }
                respond([], final: "OK")
                return true
            }
            askNetwork(raw, receivedAt: receivedAt) { state in
                if let presentation { state.ccwaURC = presentation == 1 }
                switch mode {
                case 0, 1:
                    // Some networks (IMS voice among them) do not let the subscriber change the service over AT.
                    guard state.settings.callWaitingControllable else {
                        return ([], state.verboseErrors ? "+CME ERROR: operation not supported" : "+CME ERROR: 4")
                    }
                    state.callWaiting = mode == 1
                    return ([], "OK")
                case 2:
                    // Status per class; "not active" is reported for all classes (7 = voice, data, fax).
                    return ([state.callWaiting ? "+CCWA: 1,1" : "+CCWA: 0,7"], "OK")
                default:
                    return ([], "ERROR")
                }
            }
        case _ where body.hasPrefix("+CLCK="):
            let fields = Self.fields(String(original.dropFirst(6)))
            let facility = fields.first?.uppercased() ?? ""
            let mode = fields.count > 1 ? Int(fields[1]) : nil
            guard Self.networkBarringFacilities.contains(facility) else {
                // SIM facilities (SC, FD, PN…) are answered by the module and the SIM, without the network.
                if mode == 2 {
                    let locked = state.withLock { $0.settings.simPIN != nil }
                    respond(["+CLCK: \(facility == "SC" && locked ? 1 : 0)"], final: "OK")
                } else {
                    respond([], final: mode == nil ? "ERROR" : "OK")
                }
                return true
            }
            askNetwork(raw, receivedAt: receivedAt) { state in
                switch mode {
                case 0: state.barredFacilities.remove(facility); return ([], "OK")
                case 1: state.barredFacilities.insert(facility); return ([], "OK")
                case 2: return ([state.barredFacilities.contains(facility) ? "+CLCK: 1,1" : "+CLCK: 0,7"], "OK")
                default: return ([], "ERROR")
                }
            }
        case _ where body.hasPrefix("+CCFC="):
            let fields = body.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            let mode = fields.count > 1 ? fields[1] : nil
            askNetwork(raw, receivedAt: receivedAt) { _ in
                // No forwarding is ever registered on the scripted network.
                mode == 2 ? (["+CCFC: 0,7"], "OK") : (mode == nil ? ([], "ERROR") : ([], "OK"))
            }
        case "+CUSD?":
            respond(["+CUSD: \(state.withLock { $0.ussdPresentation ? 1 : 0 })"], final: "OK")
        case _ where body.hasPrefix("+CUSD="):
            let fields = Self.fields(String(original.dropFirst(6)))
            let presentation = fields.first.flatMap { Int($0) }
            guard fields.count > 1 else {
                state.withLock { state in if let presentation { state.ussdPresentation = presentation == 1 } }
                respond([], final: presentation == nil ? "ERROR" : "OK")
                return true
            }
            let code = fields[1]
            askNetwork(raw, receivedAt: receivedAt, urcs: { state in
                state.ussdPresentation ? ["+CUSD: 0,\"Emulated reply to \(code)\",15"] : []
            }) { state in
                if let presentation { state.ussdPresentation = presentation == 1 }
                return ([], "OK")
            }
        default:
            return false
        }
        return true
    }

    /// Records the request, keeps the AT channel busy for the network's delay, then applies `answer` to the
    /// state and writes its lines and final result, then any URCs the network's reply causes.
    func askNetwork(_ command: String, receivedAt: Instant,
                    urcs: @escaping @Sendable (inout State) -> [String] = { _ in [] },
                    _ answer: @escaping @Sendable (inout State) -> ([String], String)) {
        let (delay, slot) = state.withLock { state -> (Duration, Int) in
            state.supplementaryRequests.append(EmulatedRequest(command: command, receivedAt: receivedAt))
            return (state.settings.supplementaryServiceDelay, state.supplementaryRequests.count - 1)
        }
        let finish: @Sendable () -> Void = { [self] in
            let now = clock.now()
            let (lines, final, after) = state.withLock { state -> ([String], String, [String]) in
                state.supplementaryRequests[slot].answeredAt = now
                let (lines, final) = answer(&state)
                return (lines, final, final == "OK" ? urcs(&state) : [])
            }
            respond(lines, final: final)
            for urc in after { send(urc: urc) }
        }
        if delay > .zero {
            note("-- \(command): waiting \(delay) for the network")
            occupyChannel(for: delay, then: finish)
        } else {
            finish()
        }
    }
}
