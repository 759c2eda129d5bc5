import AlarmCodecs
import AlarmCore
import HAL

extension ATModemDriver {
    /// The port is open (again): wait for the modem, then apply every volatile setting. Called after every
    /// modem start, because a restarted modem has forgotten all of them.
    public func portOpened() {
        let generation = state.withLock { state -> Int in
            state.generation += 1
            state.phase = .starting
            state.portOpen = true
            return state.generation
        }
        engine.abortAll()
        emitNetwork()
        probe(generation: generation, attempt: 0)
    }

    /// The port went away (USB re-enumeration, unplugged): the modem is down until the port is back.
    public func portClosed() {
        // A start-up or recovery still running belongs to the port that is gone.
        state.withLock { state in
            state.generation += 1
            state.portOpen = false
        }
        engine.abortAll(reconnecting: false)
        goDown(reason: "AT port closed")
    }

    /// Sends "AT" until the modem answers (a Quectel announces RDY first; some never do).
    func probe(generation: Int, attempt: Int) {
        let limit = Int(settings.readyTimeout.milliseconds / 1000)
        engine.submit(ATCommand("AT", timeout: .seconds(1), resyncAfterTimeout: false)) { [self] outcome in
            guard current(generation) else { return }
            let endedByRDY = outcome == .aborted && state.withLock { state -> Bool in
                defer { state.probeEndedByRDY = false }
                return state.probeEndedByRDY
            }
            if outcome.isSuccess {
                // Earlier probes that timed out may still be answered: pair answers and commands again first.
                if attempt > 0 { engine.resyncBeforeNextCommand() }
                initialise(generation: generation)
            } else if endedByRDY {
                // The modem booted while this probe was out (RDY): ask again now; the boot is not a failed attempt.
                // Should it have heard the probe after all, its late OK is paired away by the resync.
                engine.resyncBeforeNextCommand()
                probe(generation: generation, attempt: attempt)
            } else if attempt < limit {
                probe(generation: generation, attempt: attempt + 1)
            } else {
                logger.error("modem does not answer AT after \(limit) s")
                recover(reason: "no answer to AT")
            }
        }
    }

    func current(_ generation: Int) -> Bool { state.withLock { $0.generation == generation } }

    /// The standard start-up, then the vendor's settings; every step is logged on failure and the
    /// sequence goes on: a modem without caller ID can still place the alarm call.
    func initialise(generation: Int) {
        // +CLCC before anything else that concerns calls: a modem keeps its calls when the daemon dies or the port
        // is reopened, and the centre may be listening on one right now. Each listed call is reported to the core
        // as existing (adopted, or ended on its own) before the driver accepts a dial.
        let callList = ATCommand("AT+CLCC", expecting: ["+CLCC:"], priority: .callControl)
        let first = [ATCommand("ATE0"), ATCommand("AT+CMEE=2"), callList, ATCommand("AT+CPIN?", expecting: ["+CPIN:"])]
        engine.run(first) { [self] outcomes in
            guard current(generation) else { return }
            for (command, outcome) in zip(first, outcomes) { absorb(command, outcome) }
            if case .completed(let result, let lines) = outcomes[2], result.isSuccess {
                reconcile(lines.compactMap(CallListEntry.parse), startSync: true)
                startPolling()
            } else {
                logger.warning("the modem's call list could not be read at start-up")
            }
            let locked = state.withLock { $0.simLocked }
            guard locked else {
                configure(generation: generation)
                return
            }
            guard let pin = settings.simPIN, !state.withLock({ $0.pinRefused }) else {
                logger.error("the SIM is PIN-locked and no (accepted) PIN is available; only emergency calls are possible")
                configure(generation: generation)
                return
            }
            // The PIN goes to the modem and nowhere else: not in logs, not in errors.
            var unlock = ATCommand("AT+CPIN=\"\(pin)\"", timeout: .seconds(10))
            unlock.logText = "AT+CPIN=<PIN>"
            engine.submit(unlock) { [self] outcome in
                guard current(generation) else { return }
                if outcome.isSuccess {
                    state.withLock { $0.simLocked = false }
                    logger.notice("SIM unlocked")
                } else if case .completed = outcome {
                    state.withLock { $0.pinRefused = true }
                    logger.error("SIM PIN refused; never retried (three wrong PINs lock the SIM)")
                } else {
                    logger.error("SIM PIN got no answer")
                }
                configure(generation: generation)
            }
        }
    }

    func configure(generation: Int) {
        var commands = [
            ATCommand("AT+CTZU=1"),
            ATCommand("AT+CGSN", bareLines: true),
            ATCommand("AT+CIMI", bareLines: true),
            ATCommand(profile.iccidCommand, expecting: profile.iccidPrefix.isEmpty ? [] : [profile.iccidPrefix],
                      bareLines: profile.iccidPrefix.isEmpty),
            // DTR is ignored: a host that dies or closes the port must never end the centre's call (the port is
            // also opened without HUPCL, so closing it does not drop DTR in the first place).
            ATCommand("AT&D0"),
            ATCommand("AT+CLIP=1"),
            ATCommand("AT+CREG=2"),
            ATCommand("AT+CGREG=2"),
            ATCommand("AT+CEREG=2"),
            ATCommand("AT+CMGF=0"),
            // New SMS are announced as +CMTI and stay in memory until read (never routed raw with +CMT).
            ATCommand("AT+CNMI=2,1,0,0,0"),
        ]
        if case .clccURC(let enable) = profile.callState { commands.append(ATCommand(enable)) }
        commands += profile.vendorSettings.map { ATCommand($0) }
        if settings.enableGNSS || state.withLock({ $0.gnssWanted }) { commands += profile.gnssOn.map { ATCommand($0) } }
        if settings.usbAudio, let command = profile.usbAudioOn { commands.append(ATCommand(command)) }
        commands += [
            ATCommand("AT+COPS=3,2"),
            ATCommand("AT+COPS?", expecting: ["+COPS:"]),
            ATCommand("AT+CREG?", expecting: ["+CREG:"]),
            ATCommand("AT+CEREG?", expecting: ["+CEREG:"]),
            ATCommand("AT+CSQ", expecting: ["+CSQ:"]),
            ATCommand("AT+CCLK?", expecting: ["+CCLK:"]),
        ]
        let sequence = commands
        engine.run(sequence) { [self] outcomes in
            guard current(generation) else { return }
            for (command, outcome) in zip(sequence, outcomes) { absorb(command, outcome) }
            if outcomes.allSatisfy({ $0 == .timedOut || $0 == .aborted }) {
                recover(reason: "start-up got no answers")
                return
            }
            let alarm = state.withLock { state -> Bool in
                state.phase = .ready
                state.recoveries = 0
                return state.alarmMode
            }
            logger.notice("modem ready", metadata: ["profile": "\(profile.name)"])
            emitNetwork()
            if !alarm { switchCallWaitingOff(generation: generation) }
            scheduleSignalPoll(generation: generation)
            pollBattery(generation: generation)
            configureData(generation: generation)
            readStoredMessages(generation: generation)
        }
    }

    /// `AT+CCWA=1,0`: the network gives any second caller busy. A supplementary-service request the network answers
    /// in seconds, so it is sent once the modem is ready and no alarm is on (never between a trigger and its dial);
    /// during an alarm it waits for the alarm's end. 27.007: `<n>` 1 keeps +CCWA URCs on should the network still
    /// offer a waiting call, `<mode>` 0 switches the service off.
    func switchCallWaitingOff(generation: Int) {
        engine.submit(ATCommand("AT+CCWA=1,0", timeout: .seconds(10), priority: .background)) { [self] outcome in
            guard current(generation) else { return }
            if outcome.isSuccess {
                state.withLock { $0.callWaitingOff = true }
            } else {
                logger.warning("call waiting could not be switched off; a waiting call is still rejected on its own",
                               metadata: ["outcome": "\(outcome)"])
            }
        }
    }

    /// Takes what a start-up or status command answered into the driver's state.
    func absorb(_ command: ATCommand, _ outcome: ATOutcome) {
        guard case .completed(let result, let lines) = outcome else {
            logger.warning("modem command got no answer", metadata: ["command": "\(command.text)"])
            return
        }
        if command.text == "ATE0", result.isSuccess { engine.setEcho(false) }
        if command.text == "AT+CCLK?", let time = lines.compactMap(NetworkClock.parse).first {
            let at = clock.now()
            timeSink.withLock { $0 }?(time.wallTime, at)
        }
        if !result.isSuccess, !command.text.hasPrefix("AT+CPIN=") {
            logger.warning("modem refused a command", metadata: ["command": "\(command.text)", "result": "\(result)"])
        }
        state.withLock { state in
            for line in lines {
                switch command.text {
                case "AT+CPIN?":
                    if let sim = SIMState.parse(line) {
                        state.simPresent = sim != .notInserted
                        state.simLocked = sim == .pinRequired
                    }
                case "AT+CGSN": state.identity.imei = ModemIdentity.parseIMEI(line) ?? state.identity.imei
                case "AT+CIMI":
                    if let imsi = ModemIdentity.parseIMSI(line) {
                        state.identity.imsi = imsi
                        // MCC is the first 3 digits of the IMSI; Belgian MNCs are 2 digits.
                        state.mcc = Int(imsi.prefix(3))
                        state.mnc = Int(imsi.dropFirst(3).prefix(2))
                    }
                case profile.iccidCommand: state.identity.iccid = ModemIdentity.parseICCID(line) ?? state.identity.iccid
                case "AT+CREG?": state.cs = RegistrationReport.parse(line, solicited: true) ?? state.cs
                case "AT+CEREG?": state.eps = RegistrationReport.parse(line, solicited: true) ?? state.eps
                case "AT+CSQ": state.signal = SignalQuality.parse(line)?.rssi
                case "AT+COPS?":
                    if let op = Operator.parse(line), let numeric = op.numericCode, numeric.count >= 5 {
                        state.mcc = Int(numeric.prefix(3))
                        state.mnc = Int(numeric.dropFirst(3))
                    }
                    if let act = Operator.parse(line)?.accessTechnology { state.data.accessTechnology = act }
                default: break
                }
            }
            if command.text == "AT+CPIN?", case .cmeError = result { state.simPresent = false }
        }
    }

    func scheduleSignalPoll(generation: Int) {
        let timer = clock.schedule(after: settings.signalPollInterval) { [self] in
            guard current(generation) else { return }
            engine.submit(ATCommand("AT+CSQ", expecting: ["+CSQ:"], priority: .background)) { [self] outcome in
                guard current(generation) else { return }
                let before = state.withLock { $0.signal }
                absorb(ATCommand("AT+CSQ", expecting: ["+CSQ:"]), outcome)
                checkHung()
                if state.withLock({ $0.signal }) != before { emitNetwork() }
                pollDataIfWanted(generation: generation)
                scheduleSignalPoll(generation: generation)
            }
        }
        state.withLock { $0.signalTimer?.cancel(); $0.signalTimer = timer }
    }

    /// N commands in a row without an answer: the modem is hung.
    func checkHung() {
        if engine.consecutiveTimeouts >= settings.hungAfterTimeouts { recover(reason: "\(engine.consecutiveTimeouts) commands unanswered") }
    }

    /// Re-initialise; if the modem still does not answer, power-cycle it through the board's line.
    func recover(reason: String) {
        let (generation, attempt) = state.withLock { state -> (Int, Int) in
            state.generation += 1
            state.recoveries += 1
            state.restarts += 1
            state.phase = .recovering
            return (state.generation, state.recoveries)
        }
        logger.error("modem down, recovering", metadata: ["reason": "\(reason)", "attempt": "\(attempt)"])
        engine.abortAll(reconnecting: state.withLock { $0.portOpen })
        goDown(reason: reason, keepPhase: true)
        if attempt % 2 == 1 {
            // First try: the modem may only have lost its settings (it restarted on its own).
            probe(generation: generation, attempt: Int(settings.readyTimeout.milliseconds / 1000) - 3)
        } else {
            powerCycle(generation: generation)
        }
    }

    func powerCycle(generation: Int) {
        guard let line = powerLine else {
            logger.error("modem hung and the board has no modem power line; retrying AT")
            probe(generation: generation, attempt: 0)
            return
        }
        do {
            try line.set(active: true)
        } catch {
            logger.error("modem power line failed", metadata: ["error": "\(error)"])
        }
        _ = clock.schedule(after: settings.powerPulse) { [self] in
            try? line.set(active: false)
            guard current(generation) else { return }
            engine.abortAll(reconnecting: state.withLock { $0.portOpen })
            probe(generation: generation, attempt: 0)
        }
    }

    /// Every call is lost with the modem; the core hears it so an active alarm redials once the modem is back.
    func goDown(reason: String, keepPhase: Bool = false) {
        let lost = state.withLock { state -> [CallID] in
            if !keepPhase { state.phase = .down }
            var ids = state.calls.values.map(\.id)
            if let pending = state.pendingDial { ids.append(pending) }
            if let incoming = state.pendingIncoming { ids.append(incoming.id) }
            state.calls.removeAll()
            state.pendingDial = nil
            state.pendingIncoming = nil
            state.pollTimer?.cancel()
            state.pollTimer = nil
            state.signalTimer?.cancel()
            state.cs = nil
            state.eps = nil
            state.ps = nil
            state.data.active = false
            state.data.address = nil
            state.data.activating = false
            state.data.retryTimer?.cancel()
            state.data.retryTimer = nil
            return ids
        }
        emitNetwork()
        emitData()
        for id in lost { emitCall(.progress(id, .ended(.networkFailure))) }
    }
}
