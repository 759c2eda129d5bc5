import AlarmCodecs
import AlarmCore
import HAL

extension ATModemDriver {
    public func dial(_ id: CallID, number: String) {
        let ready = state.withLock { state -> Bool in
            guard state.phase == .ready else { return false }
            state.pendingDial = id
            state.pendingDialAcknowledged = false
            return true
        }
        guard ready else {
            emitCall(.progress(id, .ended(.dialFailed(.notReady))))
            return
        }
        let command = ATCommand("ATD\(number);", timeout: settings.dialTimeout, priority: .callControl, isCallSetup: true)
        engine.submit(command) { [self] outcome in
            switch outcome {
            case .completed(.ok, _), .completed(.connect, _):
                state.withLock { if $0.pendingDial == id { $0.pendingDialAcknowledged = true } }
                emitProgressOnce(id, .dialing)
                startPolling()
            case .completed(let result, _):
                let stillPending = state.withLock { state -> Bool in
                    guard state.pendingDial == id else { return false }
                    state.pendingDial = nil
                    return true
                }
                if stillPending { emitCall(.progress(id, .ended(Self.endReason(of: result)))) }
            case .timedOut:
                clearPending(id)
                emitCall(.progress(id, .ended(.dialFailed(.timeout))))
                checkHung()
            case .aborted:
                break  // goDown already reported the call as lost
            }
        }
    }

    public func perform(_ action: CallAction, on id: CallID) {
        switch action {
        case .answer:
            engine.submit(ATCommand("ATA", timeout: .seconds(20), priority: .callControl, isCallSetup: true)) { [self] outcome in
                if case .completed(let result, _) = outcome, !result.isSuccess {
                    logger.warning("answer failed", metadata: ["call": "\(id)", "result": "\(result)"])
                }
                startPolling()
            }
        case .reject:
            // Never ATH/AT+CHUP while another call is up: that would hang up the centre.
            let otherCallUp = state.withLock { state in
                state.calls.values.contains { $0.id != id && ($0.state == .active || $0.state == .held || $0.state == .dialing || $0.state == .alerting) }
                    || (state.pendingDial != nil && state.pendingDial != id)
            }
            let command = otherCallUp ? "AT+CHLD=0" : "ATH"
            engine.submit(ATCommand(command, priority: .callControl)) { [self] _ in startPolling() }
        case .hangUp:
            let tracked = state.withLock { state in state.calls.values.contains { $0.id == id } || state.pendingDial == id }
            guard tracked else { return }
            engine.submit(ATCommand("AT+CHUP", priority: .callControl)) { [self] _ in
                // A dial hung up before the modem listed it will never appear in +CLCC: it is over now.
                let wasPending = state.withLock { state -> Bool in
                    guard state.pendingDial == id else { return false }
                    state.pendingDial = nil
                    return true
                }
                if wasPending { emitCall(.progress(id, .ended(.localHangUp))) }
                startPolling()
            }
        }
    }

    /// During an alarm no second caller may even knock: the network gives them busy (27.007 +CCWA).
    public func setAlarmMode(_ on: Bool) {
        let ready = state.withLock { state -> Bool in
            state.alarmMode = on
            return state.phase == .ready
        }
        // 27.007 +CCWA=<n>,<mode>: <mode> switches the network service (0 off, 1 on); <n> only the URC.
        if ready { engine.submit(ATCommand(on ? "AT+CCWA=1,0" : "AT+CCWA=1,1", priority: .callControl)) }
    }

    static func endReason(of result: ATFinalResult) -> CallEndReason {
        switch result {
        case .busy: .busy
        case .noAnswer: .noAnswer
        case .noCarrier: .noCarrier
        case .noDialtone: .dialFailed(.notReady)
        case .cmeError(let code, let text):
            // 30 no network service, 31 network timeout, 10-13 SIM problems: nothing the centre did.
            if [30, 31, 32].contains(code ?? -1) || text.lowercased().contains("network") { .dialFailed(.notReady) }
            else if [10, 11, 12, 13].contains(code ?? -1) || text.lowercased().contains("sim") { .dialFailed(.unavailable) }
            else { .dialFailed(.rejected) }
        default: .dialFailed(.rejected)
        }
    }

    func clearPending(_ id: CallID) {
        state.withLock { if $0.pendingDial == id { $0.pendingDial = nil } }
    }

    func emitProgressOnce(_ id: CallID, _ progress: CallProgress) {
        emitCall(.progress(id, progress))
    }

    // MARK: +CLCC tracking

    /// Polls +CLCC while any call exists (setup fast, active slower); with call-state URCs only once to sync.
    func startPolling() {
        let (active, urcs) = state.withLock { state -> (Bool, Bool) in
            let exists = !state.calls.isEmpty || state.pendingDial != nil || state.pendingIncoming != nil
            var urcs = false
            if case .clccURC = profile.callState { urcs = true }
            return (exists, urcs)
        }
        guard active else { return }
        pollCalls { [self] in
            let (exists, settingUp) = state.withLock { state -> (Bool, Bool) in
                let settingUp = state.pendingDial != nil || state.pendingIncoming != nil
                    || state.calls.values.contains { $0.state != .active && $0.state != .held }
                return (!state.calls.isEmpty || settingUp, settingUp)
            }
            guard exists else { return }
            // With call-state URCs a slow poll still runs while a call exists: one URC lost to line noise
            // must not leave the centre call "alerting" until the core gives it up.
            let interval = urcs ? settings.urcBackupPollInterval
                : (settingUp ? settings.setupPollInterval : settings.activePollInterval)
            let timer = clock.schedule(after: interval) { [self] in startPolling() }
            state.withLock { $0.pollTimer?.cancel(); $0.pollTimer = timer }
        }
    }

    func pollCalls(then next: @escaping @Sendable () -> Void = {}) {
        let (askedAfter, dialAcknowledged) = state.withLock { ($0.announcements, $0.pendingDialAcknowledged) }
        engine.submit(ATCommand("AT+CLCC", expecting: ["+CLCC:"], priority: .callControl)) { [self] outcome in
            if case .completed(let result, let lines) = outcome, result.isSuccess {
                reconcile(lines.compactMap(CallListEntry.parse), askedAfterAnnouncement: askedAfter,
                          askedAfterDialAcknowledged: dialAcknowledged)
            } else if outcome == .timedOut {
                checkHung()
            }
            next()
        }
    }

    /// Compares the modem's call list with what we track and reports every change.
    /// `askedAfterAnnouncement`: the announcement count when this list was asked for; an incoming call
    /// announced before that and missing from the list has already gone (the caller gave up, or we rejected it).
    /// `askedAfterDialAcknowledged`: the list was asked for after ATD's OK, so a pending dial missing from
    /// it has ended already (busy, rejected, hung up) before it could be listed.
    func reconcile(_ entries: [CallListEntry], askedAfterAnnouncement: Int? = nil, askedAfterDialAcknowledged: Bool = false) {
        let voice = entries.filter(\.isVoice)
        var events: [CallEvent] = []
        var ended: [(CallID, CallListEntry.State?)] = []
        state.withLock { state in
            var seen: Set<Int> = []
            for entry in voice where entry.state != .ended {
                seen.insert(entry.index)
                var call = state.calls[entry.index]
                if call == nil {
                    if entry.direction == .outgoing, let pending = state.pendingDial {
                        call = TrackedCall(id: pending, state: nil, reported: .dialing)
                        state.pendingDial = nil
                    } else if entry.direction == .incoming {
                        if let pending = state.pendingIncoming {
                            call = TrackedCall(id: pending.id, state: nil, reported: nil)
                            state.pendingIncoming = nil
                            state.ringTimer?.cancel()
                            state.ringTimer = nil
                            // +CLCC came before +CLIP (or instead of it): announce the call now, with the
                            // number the list gives.
                            if !pending.announced {
                                events.append(.incoming(pending.id, caller: entry.number.flatMap { $0.isEmpty ? nil : $0 }))
                            }
                        } else {
                            let id = CallID.incoming(state.nextIncoming)
                            state.nextIncoming += 1
                            call = TrackedCall(id: id, state: nil, reported: nil)
                            events.append(.incoming(id, caller: entry.number.flatMap { $0.isEmpty ? nil : $0 }))
                        }
                    } else {
                        // An outgoing call we did not place (e.g. left over from before a restart): hang it up.
                        continue
                    }
                }
                guard var tracked = call else { continue }
                let progress: CallProgress? = switch entry.state {
                case .dialing: .dialing
                case .alerting: .alerting
                case .active: .connected
                default: nil
                }
                if let progress, progress != tracked.reported {
                    tracked.reported = progress
                    events.append(.progress(tracked.id, progress))
                }
                tracked.state = entry.state
                state.calls[entry.index] = tracked
            }
            for (index, call) in state.calls where !seen.contains(index) {
                state.calls[index] = nil
                ended.append((call.id, call.state))
            }
            if let pending = state.pendingDial, askedAfterDialAcknowledged, state.pendingDialAcknowledged,
               !voice.contains(where: { $0.direction == .outgoing && $0.state != .ended }) {
                state.pendingDial = nil
                ended.append((pending, nil))
            }
            if let pending = state.pendingIncoming, let asked = askedAfterAnnouncement, pending.serial <= asked,
               !voice.contains(where: { $0.direction == .incoming && $0.state != .ended }) {
                state.pendingIncoming = nil
                state.ringTimer?.cancel()
                state.ringTimer = nil
                ended.append((pending.id, nil))
            }
        }
        for event in events { emitCall(event) }
        for (id, _) in ended { readEndCause(id) }
        // A call connecting or ending changes what the data path can do (CS fallback, suspension).
        if events.contains(where: { if case .progress(_, .connected) = $0 { true } else { false } }) || !ended.isEmpty {
            readAccessTechnology()
        }
        emitData()
        if !ended.isEmpty { connectData(generation: state.withLock { $0.generation }) }
    }

    /// Why did it end? +CEER tells a centre hang-up (normal clearing) from a drop.
    func readEndCause(_ id: CallID) {
        engine.submit(ATCommand("AT+CEER", expecting: ["+CEER:"], priority: .callControl)) { [self] outcome in
            let reason = outcome.lines.compactMap(CallEndCause.parse).first?.reason ?? .unknown
            emitCall(.progress(id, .ended(reason)))
        }
    }

    // MARK: URCs

    func unsolicited(_ urc: ATUnsolicited) {
        switch urc {
        case .ring:
            announceIncoming(caller: nil, waiting: false, fromCLIP: false)
        case .clip(let number, _):
            announceIncoming(caller: number, waiting: false, fromCLIP: true)
        case .callWaiting(let number, _):
            announceIncoming(caller: number, waiting: true, fromCLIP: true)
        case .callList(let entry):
            let snapshot = state.withLock { state in state.calls }
            // A URC describes one call; rebuild the full list from what we know plus this entry.
            var entries = snapshot.compactMap { index, call -> CallListEntry? in
                guard index != entry.index, let s = call.state else { return nil }
                return CallListEntry(index: index, direction: call.id.isIncoming ? .incoming : .outgoing, state: s,
                                     isVoice: true, multiparty: false, number: nil, type: nil)
            }
            entries.append(entry)
            reconcile(entries)
        case .noCarrier:
            startPolling()
            let orphan = state.withLock { state -> CallID? in
                // A dial that was acknowledged but never appeared in +CLCC, and has ended already.
                guard let pending = state.pendingDial, state.pendingDialAcknowledged else { return nil }
                state.pendingDial = nil
                return pending
            }
            if let orphan { readEndCause(orphan) }
        case .registration(let report):
            state.withLock { state in
                switch report.domain {
                case .circuitSwitched: state.cs = report
                case .eps: state.eps = report
                case .packet: state.ps = report
                }
                if let act = report.accessTechnology, report.registration.isRegistered { state.data.accessTechnology = act }
            }
            emitNetwork()
            emitData()
            registrationChanged()
        case .ready:
            // The modem restarted on its own and forgot every setting.
            switch phase {
            case .ready:
                recover(reason: "modem restarted (RDY)")
            case .starting, .recovering:
                // A probe sent while the modem booted was lost: probe again now, not when its 1 s runs out
                // (after a power cycle mid-alarm that second delays the redial).
                state.withLock { $0.probeEndedByRDY = true }
                if !engine.abortInFlight(if: { $0.text == "AT" }) { state.withLock { $0.probeEndedByRDY = false } }
            default:
                break
            }
        case .simState(let text):
            let present = !text.uppercased().contains("NOT INSERTED")
            state.withLock { $0.simPresent = present }
            emitNetwork()
        case .packetDomain(let event):
            packetDomainEvent(event)
        case .newMessage(_, let index):
            readMessage(index: index)
        case .vendor:
            break
        }
    }

    /// RING repeats every few seconds and +CLIP follows it: one incoming call must give one event, with the
    /// number when the network presents it. Without +CLIP within a second, the caller counts as withheld.
    func announceIncoming(caller: String?, waiting: Bool, fromCLIP: Bool) {
        enum Step { case nothing, emit(CallID), waitForCLIP(CallID) }
        let step = state.withLock { state -> Step in
            let known = state.pendingIncoming != nil
                || state.calls.values.contains { $0.state == .incoming || $0.state == .waiting }
            if known {
                guard fromCLIP, var pending = state.pendingIncoming, !pending.announced else { return .nothing }
                state.ringTimer?.cancel()
                state.ringTimer = nil
                pending.announced = true
                state.pendingIncoming = pending
                return .emit(pending.id)
            }
            let id = CallID.incoming(state.nextIncoming)
            state.nextIncoming += 1
            state.announcements += 1
            state.pendingIncoming = (id, waiting, state.announcements, fromCLIP)
            return fromCLIP ? .emit(id) : .waitForCLIP(id)
        }
        switch step {
        case .nothing:
            return
        case .emit(let id):
            emitCall(.incoming(id, caller: caller.flatMap { $0.isEmpty ? nil : $0 }))
            startPolling()
        case .waitForCLIP(let id):
            let timer = clock.schedule(after: .seconds(1)) { [self] in
                let still = state.withLock { state -> Bool in
                    guard state.ringTimer != nil, var pending = state.pendingIncoming, pending.id == id, !pending.announced else {
                        return false
                    }
                    state.ringTimer = nil
                    pending.announced = true
                    state.pendingIncoming = pending
                    return true
                }
                if still {
                    emitCall(.incoming(id, caller: nil))
                    startPolling()
                }
            }
            state.withLock { $0.ringTimer = timer }
        }
    }
}

extension CallID {
    var isIncoming: Bool {
        if case .incoming = self { return true }
        return false
    }
}
