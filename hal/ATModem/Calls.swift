import AlarmCodecs
import AlarmCore
import HAL

extension ATModemDriver {
    public func dial(_ id: CallID, number: String) {
        enum Verdict { case dial, notReady, callListed }
        let verdict = state.withLock { state -> Verdict in
            // Until the start-up has read +CLCC the driver does not know which calls the modem keeps (a call
            // survives a daemon restart): no dial before that.
            guard state.phase == .ready else { return .notReady }
            // The modem is the truth about calls: never dial over one it lists. A call the core does not know of
            // was reported to it as existing, and is adopted or ended first.
            if state.calls.values.contains(where: { $0.blocksDial }) { return .callListed }
            state.pendingDial = id
            state.pendingDialAcknowledged = false
            return .dial
        }
        switch verdict {
        case .dial: break
        case .notReady:
            emitCall(.progress(id, .ended(.dialFailed(.notReady))))
            return
        case .callListed:
            logger.warning("dial refused: the modem lists a call in progress", metadata: ["call": "\(id)"])
            emitCall(.progress(id, .ended(.dialFailed(.notReady))))
            startPolling()
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
            releaseOnItsOwn(id, rejecting: true)
        case .hangUp:
            let tracked = state.withLock { state in state.calls.values.contains { $0.id == id } || state.pendingDial == id }
            guard tracked else { return }
            releaseOnItsOwn(id, rejecting: false)
        }
    }

    /// Ends one call and no other, whatever the driver believes about the rest: `ATH`/`AT+CHUP` end every call on
    /// the modem, the centre's listen-in included, so they are used only to abort our own dial when the modem lists
    /// nothing else. The call's +CLCC index comes from a fresh list unless the cache already has it.
    func releaseOnItsOwn(_ id: CallID, rejecting: Bool) {
        if let index = state.withLock({ $0.calls.first { $0.value.id == id }?.key }) {
            release(id, index: index, rejecting: rejecting)
            return
        }
        let (askedAfter, dialAcknowledged) = state.withLock { ($0.announcements, $0.pendingDialAcknowledged) }
        engine.submit(ATCommand("AT+CLCC", expecting: ["+CLCC:"], priority: .callControl)) { [self] outcome in
            guard case .completed(let result, let lines) = outcome, result.isSuccess else {
                logger.error("cannot read the call list to end one call; nothing ended", metadata: ["call": "\(id)"])
                if outcome == .timedOut { checkHung() }
                return
            }
            let entries = lines.compactMap(CallListEntry.parse).filter { $0.isVoice && $0.state != .ended }
            reconcile(entries, askedAfterAnnouncement: askedAfter, askedAfterDialAcknowledged: dialAcknowledged)
            if let index = state.withLock({ $0.calls.first { $0.value.id == id }?.key }) {
                release(id, index: index, rejecting: rejecting)
                return
            }
            // Not listed. Our own dial the modem has not listed yet is aborted, but only when the modem lists no
            // call at all; an incoming call that is not listed has gone already.
            let ownDial = state.withLock { $0.pendingDial == id }
            guard ownDial, entries.isEmpty else { return }
            engine.submit(ATCommand("AT+CHUP", priority: .callControl)) { [self] _ in
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

    /// Releases call `index` with the profile's per-call command. A modem that refuses it for a waiting or ringing
    /// call gets `AT+CHLD=0` (user busy for the waiting/incoming call, never the active one); our own dial gets
    /// `AT+CHUP` only when the modem lists no other call.
    func release(_ id: CallID, index: Int, rejecting: Bool) {
        engine.submit(ATCommand(profile.releaseCommand(index: index, rejecting: rejecting), priority: .callControl)) { [self] outcome in
            if outcome.isSuccess {
                // The call is gone now: its index is free for the network's next call (an aggressor ringing again
                // gets the same index), which must be announced as a new call, not taken for this one.
                let released = state.withLock { state -> Bool in
                    guard state.calls[index]?.id == id else { return false }
                    state.calls[index] = nil
                    return true
                }
                if released { emitCall(.progress(id, .ended(.localHangUp))) }
                startPolling()
                return
            }
            let (callState, others) = state.withLock { state in
                (state.calls[index]?.state, state.calls.filter { $0.key != index && $0.value.state != .ended }.count + (state.pendingDial == nil ? 0 : 1))
            }
            logger.warning("per-call release refused", metadata: ["call": "\(id)", "index": "\(index)", "outcome": "\(outcome)"])
            switch callState {
            case .waiting?, .incoming?:
                engine.submit(ATCommand("AT+CHLD=0", priority: .callControl)) { [self] _ in startPolling() }
            case .dialing?, .alerting?, .active? where !rejecting && others == 0:
                engine.submit(ATCommand("AT+CHUP", priority: .callControl)) { [self] _ in startPolling() }
            default:
                logger.error("call left up: no way to end it alone", metadata: ["call": "\(id)", "index": "\(index)"])
                startPolling()
            }
        }
    }

    /// Call waiting is switched off for good at every modem start (nobody may even knock while the centre listens),
    /// never at the trigger: `AT+CCWA` is a supplementary-service request the network answers in 1–5 s, and the AT
    /// channel is busy meanwhile. The alarm mode only holds that request back while an alarm is on.
    public func setAlarmMode(_ on: Bool) {
        let due = state.withLock { state -> Int? in
            state.alarmMode = on
            guard !on, state.phase == .ready, !state.callWaitingOff else { return nil }
            return state.generation
        }
        if let due { switchCallWaitingOff(generation: due) }
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
    /// `startSync`: the list read at start-up, before anything else concerning calls: every call in it is one the
    /// modem already had, reported as existing (incoming ones too: nothing answered them in this process).
    func reconcile(_ entries: [CallListEntry], askedAfterAnnouncement: Int? = nil, askedAfterDialAcknowledged: Bool = false,
                   startSync: Bool = false) {
        let voice = entries.filter(\.isVoice)
        var events: [CallEvent] = []
        var ended: [(CallID, CallListEntry.State?)] = []
        state.withLock { state in
            var seen: Set<Int> = []
            for entry in voice where entry.state != .ended {
                seen.insert(entry.index)
                var call = state.calls[entry.index]
                if call == nil {
                    if startSync || (entry.direction == .outgoing && state.pendingDial == nil) {
                        // A call this process did not place or announce (placed before a restart, or kept by the
                        // modem through a recovery): the core adopts it or has it ended on its own.
                        let id = CallID.existing(state.nextExisting)
                        state.nextExisting += 1
                        call = TrackedCall(id: id, state: nil, reported: entry.progress, direction: entry.direction)
                        events.append(.existing(ExistingCall(id: id, outgoing: entry.direction == .outgoing,
                                                             number: entry.number.flatMap { $0.isEmpty ? nil : $0 },
                                                             status: entry.existingStatus)))
                    } else if entry.direction == .outgoing, let pending = state.pendingDial {
                        call = TrackedCall(id: pending, state: nil, reported: .dialing)
                        state.pendingDial = nil
                    } else {
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
                    }
                }
                guard var tracked = call else { continue }
                let progress = entry.progress
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
                return CallListEntry(index: index, direction: call.direction ?? (call.id.isIncoming ? .incoming : .outgoing), state: s,
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

extension CallListEntry {
    var progress: CallProgress? {
        switch state {
        case .dialing: .dialing
        case .alerting: .alerting
        case .active: .connected
        default: nil
        }
    }

    var existingStatus: ExistingCall.Status {
        switch state {
        case .active: .active
        case .held: .held
        case .dialing: .dialing
        case .alerting: .alerting
        case .incoming: .incoming
        case .waiting, .ended: .waiting
        }
    }
}

extension ATModemDriver.TrackedCall {
    /// A call that is up or being placed: a dial over it would put it on hold or fail.
    var blocksDial: Bool {
        switch state {
        case .active?, .held?, .dialing?, .alerting?: true
        default: false
        }
    }
}
