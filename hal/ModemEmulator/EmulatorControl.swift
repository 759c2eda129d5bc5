import AlarmCodecs
import AlarmCore
import HAL

/// The control handle: what a test, `alarmctl sim …` or the standalone emulator's stdin can do to the modem.
extension ModemEmulator {
    public func setRegistration(_ registration: Registration, emergencyCallsPossible: Bool? = nil) {
        let (creg, cereg) = state.withLock { state -> (Bool, Bool) in
            state.settings.registration = registration
            if let emergencyCallsPossible { state.settings.emergencyCallsPossible = emergencyCallsPossible }
            return (state.cregMode > 0, state.ceregMode > 0)
        }
        if creg { send(urc: registrationLine("+CREG", solicited: false)) }
        if cereg { send(urc: registrationLine("+CEREG", solicited: false)) }
    }

    public var registration: Registration { state.withLock { $0.settings.registration } }

    public func setSignal(_ rssi: Int) { state.withLock { $0.settings.signal = rssi } }
    public func setBattery(percent: Int, charging: Bool) { state.withLock { $0.batteryPercent = percent; $0.charging = charging } }
    /// Wrong PINs the driver sent; a real SIM locks (PUK) after three.
    public var wrongPINAttempts: Int { state.withLock { $0.wrongPINs } }
    public func setSIMPresent(_ present: Bool) { state.withLock { $0.settings.simPresent = present } }
    public func setAnswerDelay(_ delay: Duration) { state.withLock { $0.settings.answerAfter = delay } }
    /// How long supplementary-service requests (AT+CCWA, AT+CLCK, AT+CCFC, AT+CUSD) wait for the network.
    public func setSupplementaryServiceDelay(_ delay: Duration) { state.withLock { $0.settings.supplementaryServiceDelay = delay } }
    /// How long ATD waits for the network to accept the call before OK.
    public func setDialAcceptDelay(_ delay: Duration) { state.withLock { $0.settings.dialAcceptDelay = delay } }
    public func setCEERStyle(_ style: CEERStyle) { state.withLock { $0.settings.ceerStyle = style } }
    /// NITZ or a module's default clock for `AT+CCLK?` (read by the driver after every modem start).
    public func setNetworkTime(_ time: EmulatedNetworkTime, skew: Duration = .zero) {
        state.withLock { $0.settings.networkTime = time; $0.settings.networkTimeSkew = skew }
    }

    /// How the network treats the next outgoing calls, in order; afterwards calls are answered.
    public func queueOutcomes(_ outcomes: [EmulatedCallOutcome]) { state.withLock { $0.outcomes += outcomes } }

    /// The radio link drops every call.
    public func dropCalls() {
        let active = state.withLock { Array($0.calls.keys) }
        for index in active { endCall(index, cause: "drop", result: "NO CARRIER") }
    }

    /// The far end of the active call hangs up (normal call clearing).
    public func remoteHangUp() {
        let active = state.withLock { state in state.calls.values.filter { $0.state == 0 }.map(\.index) }
        for index in active { endCall(index, cause: "normal", result: "NO CARRIER") }
    }

    /// A call comes in (nil: withheld number). With a call up it arrives as a waiting call (+CCWA) — or,
    /// when call waiting is off, the network gives the caller busy and the device sees nothing.
    @discardableResult
    public func ring(from caller: String?) -> Bool {
        let (index, waiting, clip) = state.withLock { state -> (Int?, Bool, Bool) in
            let busy = !state.calls.isEmpty
            if busy && !state.callWaiting {
                state.rejectedByNetwork += 1
                return (nil, true, state.clip)
            }
            let index = (1...7).first { state.calls[$0] == nil } ?? 7
            state.calls[index] = Call(index: index, incoming: true, state: busy ? 5 : 4, number: caller ?? "")
            return (index, busy, state.clip)
        }
        guard let index else { return false }
        let number = caller.map { "\"\($0)\",\($0.hasPrefix("+") ? 145 : 129)" } ?? "\"\",128"
        if waiting {
            if state.withLock({ $0.ccwaURC }) { send(urc: "+CCWA: \(number),1") }
        } else {
            announceRing(index, number: number, clip: clip)
        }
        callChanged(index)
        return true
    }

    /// RING (+CLIP) repeats every 3 s while the call rings, as on a real network.
    func announceRing(_ index: Int, number: String, clip: Bool) {
        guard state.withLock({ $0.calls[index]?.state == 4 }) else { return }
        send(urc: "RING")
        if clip { send(urc: "+CLIP: \(number),,,,,0") }
        let timer = clock.schedule(after: .seconds(3)) { [self] in announceRing(index, number: number, clip: clip) }
        state.withLock { $0.ringTimer?.cancel(); $0.ringTimer = timer }
    }

    /// The caller of an unanswered incoming call gives up.
    public func callerHangsUp() {
        let ringing = state.withLock { state in state.calls.values.filter { $0.incoming && $0.state != 0 }.map(\.index) }
        for index in ringing { endCall(index, cause: "normal", result: "NO CARRIER") }
    }

    /// The modem stops answering anything until it is power-cycled (or `unhang`); its calls stay up.
    public func hang() { state.withLock { $0.hung = true } }

    /// The AT interface answers again without a restart (a firmware stall that ended): calls and settings kept.
    public func unhang() { state.withLock { $0.hung = false } }

    /// Power off, then on: every setting and call is lost, and a Quectel says RDY again.
    public func powerCycle() {
        powerOff()
        powerOn()
    }

    public func powerOff() {
        state.withLock { state in
            for call in state.calls.values { call.timer?.cancel() }
            state.calls.removeAll()
            state.ringTimer?.cancel()
            state.powered = false
            state.booted = false
            state.hung = false
            state.line = []
            state.smsPending = nil
            // Whatever the network was still answering is lost with the modem, and so are queued bytes.
            state.session += 1
            state.channelBusy = false
            state.queuedLines = []
            state.dialAwaitingAcceptance = nil
        }
        note("-- power off")
        updateDataPlane()
    }

    public func powerOn() {
        state.withLock { state in
            state.powered = true
            state.echo = true
            state.verboseErrors = false
            state.cregMode = 0
            state.ceregMode = 0
            state.clip = false
            state.callWaiting = true
            state.ccwaURC = false
            state.ussdPresentation = false
            state.dtrMode = 1
            state.clccURCs = false
            state.simUnlocked = false
            // Contexts and IMS state are volatile; the network tears the bearer down with the modem.
            let plane = state.data.plane
            if let before = state.data.accessTechnologyBeforeFallback { state.settings.accessTechnology = before }
            state.inbox.announce = false  // +CNMI is volatile; the SIM keeps the messages
            state.gnss.engineOn = false  // the receiver keeps its position; the session must be started again
            state.data = EmulatedDataState()
            state.data.plane = plane
        }
        note("-- power on")
        boot()
    }

    /// Raw bytes on the line now (noise on a UART, a half-written URC).
    public func injectGarbage(_ bytes: [UInt8]) {
        note("!! \(bytes.count) garbage byte(s)")
        write(bytes)
    }

    /// The next response with intermediate lines carries this URC between its lines and the final result.
    public func injectURCInNextResponse(_ line: String) { state.withLock { $0.pendingURCInResponse = line } }

    /// The next URC never reaches the driver (eaten by line noise).
    public func loseNextURC() { state.withLock { $0.loseURCs += 1 } }

    /// Every response is delayed this long (a slow or busy modem).
    public func setResponseDelay(_ delay: Duration) { state.withLock { $0.responseDelay = delay } }

    // MARK: Observation

    public var transcript: [String] { state.withLock { $0.transcript } }
    public var dialledNumbers: [String] { state.withLock { $0.dialled } }
    public var submittedSMS: [SMSPDU.Decoded] { state.withLock { $0.sentSMS } }
    /// AT+CMUT=1 during a call: the centre would have heard nothing. Must stay 0.
    public var microphoneMuteViolations: Int { state.withLock { $0.muteViolations } }
    /// Calls ended by an ATH/AT+CHUP while more than one call was up (a waiting call "rejected" by hanging up all).
    public var callsEndedByHangUpAll: Int { state.withLock { $0.callsEndedByHangUpAll } }
    /// Callers the network turned away because call waiting was off.
    public var callersTurnedAwayByNetwork: Int { state.withLock { $0.rejectedByNetwork } }
    public var callWaitingEnabled: Bool { state.withLock { $0.callWaiting } }
    public var activeCallCount: Int { state.withLock { state in state.calls.values.filter { $0.state == 0 }.count } }
    public var commandCount: Int { state.withLock { $0.commandsSeen } }
    /// Every call +CLCC would list now, by index.
    public var calls: [EmulatedCallSnapshot] {
        state.withLock { state in
            state.calls.values.sorted { $0.index < $1.index }
                .map { EmulatedCallSnapshot(index: $0.index, incoming: $0.incoming, state: $0.state, number: $0.number) }
        }
    }
    /// Every ATD received, with the instant its carriage return arrived and when the network accepted it.
    public var dialAttempts: [EmulatedDial] { state.withLock { $0.dialAttempts } }
    /// Every supplementary-service request that went to the network (AT+CCWA with a mode or `?`, AT+CLCK on a
    /// barring facility, AT+CCFC, AT+CUSD with a string), in arrival order.
    public var supplementaryServiceRequests: [EmulatedRequest] { state.withLock { $0.supplementaryRequests } }
    public var supplementaryServiceRequestCount: Int { state.withLock { $0.supplementaryRequests.count } }
    /// ATH / AT+CHUP / AT+QHUP without an index received while at least one call existed (each ends them all).
    public var hangUpAllCommandsWithCalls: Int { state.withLock { $0.hangUpAllWithCalls } }
    /// Every call that ended, in order, with the command (or network event) that ended it.
    public var endedCalls: [EmulatedCallEnd] { state.withLock { $0.endedCalls } }
    /// True while a command waits for the network and later command lines are held back.
    public var atChannelBusy: Bool { state.withLock { $0.channelBusy } }
    /// The last AT&D<n> (DTR handling) the driver set; 1 after power-on.
    public var dtrMode: Int { state.withLock { $0.dtrMode } }
}

/// The emulated modem's power line, for boards whose driver power-cycles the modem: active = power off.
public struct EmulatorPowerLine: OutputLine {
    let emulator: ModemEmulator
    public init(emulator: ModemEmulator) { self.emulator = emulator }
    public func set(active: Bool) throws(HALError) {
        if active { emulator.powerOff() } else { emulator.powerOn() }
    }
}
