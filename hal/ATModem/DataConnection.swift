import AlarmCodecs
import HAL

/// How the board's data connection is brought up. The password is never logged.
public struct DataCallSettings: Sendable, Hashable {
    public enum Authentication: String, Sendable, Hashable, CaseIterable {
        case none, pap, chap
        var code: Int { self == .none ? 0 : (self == .pap ? 1 : 2) }
    }

    public enum PDPType: String, Sendable, Hashable, CaseIterable {
        case ip = "IP"
        case ipv6 = "IPV6"
        case ipv4v6 = "IPV4V6"
    }

    /// Who starts the data call once the context is defined.
    public enum Activation: String, Sendable, Hashable, CaseIterable {
        /// 3GPP `AT+CGACT=1,<cid>`: the modem's interface carries the context (or the OS's own dialler does).
        case standard = "3gpp"
        /// The profile's vendor command (Quectel ECM `AT+QNETDEVCTL`, SIMCom `AT$QCRMCALL`), which also
        /// connects the context to the USB network interface.
        case vendor
    }

    public var apn: String
    public var user: String?
    public var password: String?
    public var authentication: Authentication = .none
    public var pdpType: PDPType = .ip
    public var cid = 1
    public var activation: Activation = .standard
    public var retryInitialDelay: Duration = .seconds(2)
    public var retryMaxDelay: Duration = .seconds(60)
    /// Bounded: the AT channel is blocked while it runs, and a dial must not wait long behind it.
    public var activationTimeout: Duration = .seconds(20)

    public init(apn: String) { self.apn = apn }
}

struct DataState {
    var wanted = false
    var active = false
    var address: String?
    var activating = false
    var failures = 0
    var retryTimer: (any Cancellable)?
    /// The AcT the modem reported last (registration URC or +COPS?), whichever came last.
    var accessTechnology: Int?
    var lastEmitted: ModemDataStatus?
}

extension ATModemDriver: DataConnectionMonitor {
    public func start(_ status: @escaping @Sendable (ModemDataStatus) -> Void) throws(HALError) {
        guard settings.data != nil else { throw HALError(.unavailable, "the board configures no data connection") }
        dataSink.withLock { $0 = status }
        emitData(force: true)
    }

    var dataStatus: ModemDataStatus {
        state.withLock { s in
            let inCall = !s.calls.isEmpty || s.pendingDial != nil
            return ModemDataStatus(contextActive: s.data.active, address: s.data.active ? s.data.address : nil,
                                   technology: RadioTechnology(accessTechnology: s.data.accessTechnology),
                                   inVoiceCall: inCall)
        }
    }

    /// Reports the data status when it changed (every caller may call this freely).
    func emitData(force: Bool = false) {
        guard settings.data != nil else { return }
        let status = dataStatus
        let changed = state.withLock { s -> Bool in
            guard force || s.data.lastEmitted != status else { return false }
            s.data.lastEmitted = status
            return true
        }
        if changed { dataSink.withLock { $0 }?(status) }
    }

    /// After every modem start: define the context, ask for +CGEV, switch IMS on, then connect.
    func configureData(generation: Int) {
        guard let data = settings.data else { return }
        var commands = [
            ATCommand("AT+CGEREP=2,1"),
            ATCommand("AT+CGDCONT=\(data.cid),\"\(data.pdpType.rawValue)\",\"\(data.apn)\""),
        ]
        if data.authentication != .none {
            var auth = ATCommand("AT+CGAUTH=\(data.cid),\(data.authentication.code),\"\(data.user ?? "")\",\"\(data.password ?? "")\"")
            auth.logText = "AT+CGAUTH=\(data.cid),\(data.authentication.code),<user>,<password>"
            commands.append(auth)
        }
        commands += profile.imsOn.map { ATCommand($0) }
        state.withLock { $0.data.wanted = true; $0.data.failures = 0 }
        let sequence = commands
        engine.run(sequence) { [self] outcomes in
            guard current(generation) else { return }
            for (command, outcome) in zip(sequence, outcomes) where !outcome.isSuccess {
                logger.warning("data connection set-up step failed", metadata: ["command": "\(command.logText)"])
            }
            connectData(generation: generation)
        }
    }

    /// Starts the data call when the modem is registered and no call is being placed (the activation holds the
    /// AT channel; a dial must not wait behind it). Otherwise a later registration or call end tries again.
    func connectData(generation: Int) {
        guard let data = settings.data else { return }
        let go = state.withLock { s -> Bool in
            let registered = [s.cs, s.eps, s.ps].contains { $0?.registration.isRegistered == true }
            let callBusy = !s.calls.isEmpty || s.pendingDial != nil || s.pendingIncoming != nil
            guard s.phase == .ready, s.data.wanted, !s.data.active, !s.data.activating, s.data.retryTimer == nil,
                  registered, !callBusy else { return false }
            s.data.activating = true
            return true
        }
        guard go else { return }
        let start: ATCommand
        if data.activation == .vendor, let vendor = profile.dataCallStart {
            start = ATCommand(vendor.replacingCID(data.cid), timeout: data.activationTimeout, priority: .background)
        } else {
            start = ATCommand("AT+CGACT=1,\(data.cid)", timeout: data.activationTimeout, priority: .background)
        }
        engine.submit(start) { [self] outcome in
            guard current(generation) else { return }
            if !outcome.isSuccess {
                logger.warning("data call not started", metadata: ["command": "\(start.logText)", "outcome": "\(outcome)"])
            }
            checkData(generation: generation)
        }
    }

    /// Reads the context state and address; an inactive context is reconnected with backoff.
    func checkData(generation: Int) {
        guard let data = settings.data else { return }
        let commands = [ATCommand("AT+CGACT?", expecting: ["+CGACT:"], priority: .background),
                        ATCommand("AT+CGPADDR=\(data.cid)", expecting: ["+CGPADDR:"], priority: .background)]
        engine.run(commands) { [self] outcomes in
            guard current(generation) else { return }
            let states = outcomes[0].lines.compactMap(PDPContextState.parse)
            let address = outcomes[1].lines.compactMap(PDPAddress.parse).first { $0.cid == data.cid }?.addresses.first
            guard case .completed = outcomes[0] else {
                state.withLock { $0.data.activating = false }
                checkHung()
                return
            }
            let active = states.first { $0.cid == data.cid }?.active ?? false
            let (wasActive, failures) = state.withLock { s -> (Bool, Int) in
                let was = s.data.active
                s.data.activating = false
                s.data.active = active
                s.data.address = active ? address : nil
                if active { s.data.failures = 0 } else { s.data.failures += 1 }
                return (was, s.data.failures)
            }
            if active != wasActive {
                if active {
                    logger.notice("data connection up", metadata: ["cid": "\(data.cid)"])
                } else {
                    logger.warning("data connection down", metadata: ["cid": "\(data.cid)"])
                }
            }
            emitData()
            if !active { scheduleDataRetry(generation: generation, failures: failures) }
        }
    }

    func scheduleDataRetry(generation: Int, failures: Int) {
        guard let data = settings.data else { return }
        let steps = min(max(failures - 1, 0), 10)
        var delay = data.retryInitialDelay
        for _ in 0..<steps { delay = min(delay * 2, data.retryMaxDelay) }
        let timer = clock.schedule(after: delay) { [self] in
            guard current(generation) else { return }
            state.withLock { $0.data.retryTimer = nil }
            connectData(generation: generation)
        }
        state.withLock { s in
            s.data.retryTimer?.cancel()
            s.data.retryTimer = timer
        }
    }

    /// +CGEV: the network or the modem took the context down (or brought one up).
    func packetDomainEvent(_ event: PacketDomainEvent) {
        guard let data = settings.data else { return }
        let generation = state.withLock { $0.generation }
        let lost: Bool
        switch event {
        case .deactivated(let cid): lost = cid == nil || cid == data.cid
        case .detached: lost = true
        case .activated(let cid) where cid == nil || cid == data.cid:
            checkData(generation: generation)
            return
        default: return
        }
        if lost {
            let wasActive = state.withLock { s -> Bool in
                defer { s.data.active = false; s.data.address = nil }
                return s.data.active
            }
            if wasActive { logger.warning("data connection lost (network event)", metadata: ["event": "\(event)"]) }
            emitData()
            scheduleDataRetry(generation: generation, failures: 1)
        }
    }

    /// Registration (re)gained: a context that is down is connected now, not after the backoff it was waiting out.
    func registrationChanged() {
        let generation = state.withLock { s -> Int in
            let registered = [s.cs, s.eps, s.ps].contains { $0?.registration.isRegistered == true }
            if registered, s.data.wanted, !s.data.active {
                s.data.retryTimer?.cancel()
                s.data.retryTimer = nil
            }
            return s.generation
        }
        connectData(generation: generation)
    }

    /// The periodic safety check (a +CGEV lost on the line must not leave a dead context unnoticed).
    func pollDataIfWanted(generation: Int) {
        let wanted = state.withLock { $0.data.wanted && !$0.data.activating && $0.data.retryTimer == nil }
        if wanted { checkData(generation: generation) }
    }

    /// During a call the serving technology may change (CS fallback from LTE): ask, so the data path can be
    /// judged (suspended or not).
    func readAccessTechnology() {
        guard settings.data != nil else { return }
        engine.submit(ATCommand("AT+COPS?", expecting: ["+COPS:"], priority: .background)) { [self] outcome in
            if let op = outcome.lines.compactMap(Operator.parse).first, let act = op.accessTechnology {
                state.withLock { $0.data.accessTechnology = act }
            }
            emitData()
        }
    }
}

extension String {
    func replacingCID(_ cid: Int) -> String { replacing("{cid}", with: String(cid)) }
}
