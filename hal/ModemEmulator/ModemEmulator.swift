import AlarmCodecs
import AlarmCore
import HAL
import Synchronization

/// A cellular modem that speaks AT bytes: the driver under test cannot tell it from a Quectel or SIMCom
/// module on a serial line. It answers 27.007/27.005 commands, runs calls on a scripted network, decodes
/// submitted SMS PDUs, and takes faults from its control handle (this class's public methods).
///
/// It is I/O-free: bytes from the driver go to `receive`, bytes to the driver leave through `write`.
/// `PTYModemEmulator` puts it behind a real pseudo-terminal.
public final class ModemEmulator: Sendable {
    struct Call: Sendable {
        var index: Int
        var incoming: Bool
        var state: Int  // +CLCC <stat>: 0 active, 1 held, 2 dialing, 3 alerting, 4 incoming, 5 waiting
        var number: String
        var timer: (any Cancellable)?
    }

    struct State {
        var settings: EmulatorSettings
        var powered = true
        var booted = false
        var hung = false
        var echo = true
        var verboseErrors = false
        var cregMode = 0
        var ceregMode = 0
        var clip = false
        var callWaiting = true
        var ccwaURC = false
        var loseURCs = 0
        var clccURCs = false
        var calls: [Int: Call] = [:]
        var outcomes: [EmulatedCallOutcome] = []
        var lastCause = (code: 0, text: "No cause information available")
        /// The last call was released by a command from the driver (ATH, AT+CHUP, AT+CHLD, AT+QHUP), not by
        /// the network: SIMCom then reports `"0 Unknown"`.
        var lastReleaseWasLocal = false
        /// A command is being carried out (waiting for the network): lines arriving meanwhile wait in
        /// `queuedLines`, with the instant their carriage return arrived.
        var channelBusy = false
        var queuedLines: [(text: String, receivedAt: Instant)] = []
        /// Bumped at power-off, so that answers the network was preparing for a modem that has since been
        /// switched off never reach the line.
        var session = 0
        var supplementaryRequests: [EmulatedRequest] = []
        var dialAttempts: [EmulatedDial] = []
        /// The call whose ATD still waits for the network's acceptance, and the result to give if it ends first.
        var dialAwaitingAcceptance: Int?
        var endBeforeAcceptance: String?
        var endedCalls: [EmulatedCallEnd] = []
        var hangUpAllWithCalls = 0
        var dtrMode = 1
        var barredFacilities: Set<String> = []
        var ussdPresentation = false
        var line: [UInt8] = []
        var smsPending: Int?  // +CMGS length awaiting the PDU
        var smsBody: [UInt8] = []
        var messageReference = 0
        var pendingURCInResponse: String?
        var responseDelay: Duration = .zero
        var transcript: [String] = []
        var dialled: [String] = []
        var sentSMS: [SMSPDU.Decoded] = []
        var muteViolations = 0
        var callsEndedByHangUpAll = 0
        var rejectedByNetwork = 0
        var commandsSeen = 0
        var ringTimer: (any Cancellable)?
        var simUnlocked = false
        var batteryPercent = 87
        var charging = false
        var wrongPINs = 0
        var data = EmulatedDataState()
        var inbox = EmulatedInbox()
        var gnss = EmulatedGNSSState()
    }

    let clock: any Clock
    let state: Mutex<State>
    let output = Mutex<(@Sendable ([UInt8]) -> Void)?>(nil)
    let transcriptSink: @Sendable (String) -> Void

    public init(clock: any Clock, settings: EmulatorSettings = EmulatorSettings(),
                transcript: @escaping @Sendable (String) -> Void = { _ in }) {
        self.clock = clock
        state = Mutex(State(settings: settings))
        transcriptSink = transcript
    }

    /// Connects the emulator's output and boots it (RDY after the boot time).
    public func attach(write: @escaping @Sendable ([UInt8]) -> Void) {
        output.withLock { $0 = write }
        boot()
    }

    func boot() {
        let (bootTime, announces) = state.withLock { ($0.settings.bootTime, $0.settings.announcesReady) }
        _ = clock.schedule(after: bootTime) { [self] in
            let ready = state.withLock { state -> Bool in
                guard state.powered else { return false }
                state.booted = true
                return true
            }
            if ready, announces { send(urc: "RDY") }
        }
    }

    // MARK: Bytes from the driver

    public func receive(_ bytes: [UInt8]) {
        for byte in bytes { receive(byte) }
    }

    private func receive(_ byte: UInt8) {
        enum Step { case none, command(String, Instant), queued(String), sms([UInt8], Int), smsCancelled, echo([UInt8]) }
        let step = state.withLock { state -> Step in
            guard state.powered, state.booted, !state.hung else { return .none }
            if let length = state.smsPending {
                switch byte {
                case 0x1A:
                    let body = state.smsBody
                    state.smsPending = nil
                    state.smsBody = []
                    return .sms(body, length)
                case 0x1B:
                    state.smsPending = nil
                    state.smsBody = []
                    return .smsCancelled
                default:
                    state.smsBody.append(byte)
                    return .none
                }
            }
            switch byte {
            case 0x0D:
                let line = state.line
                state.line = []
                guard !line.isEmpty else { return .none }
                let text = String(decoding: line, as: UTF8.self)
                let receivedAt = clock.now()
                if state.channelBusy {
                    state.queuedLines.append((text, receivedAt))
                    return .queued(text)
                }
                return .command(text, receivedAt)
            case 0x0A:
                return .none
            default:
                if state.line.count < 1024 { state.line.append(byte) }
                return .none
            }
        }
        switch step {
        case .none, .echo: return
        case .smsCancelled: note("→ <ESC> (SMS cancelled)")
        case .sms(let body, let length): submitSMS(body, declaredLength: length)
        case .command(let text, let receivedAt): command(text, receivedAt: receivedAt)
        case .queued(let text): note("→ \(text) (queued: the AT channel is busy)")
        }
    }

    // MARK: The single AT channel

    /// The command in progress has given its final result: the lines that arrived meanwhile are carried out
    /// in order, until one of them occupies the channel again.
    func channelFreed() {
        while true {
            let next = state.withLock { state -> (text: String, receivedAt: Instant)? in
                state.channelBusy = false
                guard !state.queuedLines.isEmpty else { return nil }
                return state.queuedLines.removeFirst()
            }
            guard let next else { return }
            command(next.text, receivedAt: next.receivedAt)
            if state.withLock({ $0.channelBusy }) { return }
        }
    }

    /// Occupies the channel for `delay`, then runs `finish` (which writes the final result) and frees it.
    /// Nothing is written if the modem was switched off meanwhile, or has hung (it answers nothing then).
    func occupyChannel(for delay: Duration, then finish: @escaping @Sendable () -> Void) {
        let session = state.withLock { state -> Int in
            state.channelBusy = true
            return state.session
        }
        _ = clock.schedule(after: delay) { [self] in
            guard state.withLock({ $0.session == session && $0.powered && !$0.hung }) else { return }
            finish()
            channelFreed()
        }
    }

    // MARK: Output

    func note(_ line: String) {
        state.withLock { state in
            state.transcript.append(line)
            if state.transcript.count > 2000 { state.transcript.removeFirst(500) }
        }
        transcriptSink(line)
    }

    func write(_ bytes: [UInt8]) {
        output.withLock { $0 }?(bytes)
    }

    /// A response: intermediate lines then the final result, in verbose (V1) format, after any scripted delay.
    func respond(_ lines: [String], final: String) {
        let (delay, urc) = state.withLock { state -> (Duration, String?) in
            var urc: String?
            if !lines.isEmpty, let pending = state.pendingURCInResponse {
                urc = pending
                state.pendingURCInResponse = nil
            }
            return (state.responseDelay, urc)
        }
        var text = ""
        for line in lines { text += "\r\n\(line)\r\n" }
        if let urc {
            // A URC arriving between a command's answer and its final result, as real modems do.
            text += "\r\n\(urc)\r\n"
        }
        text += "\r\n\(final)\r\n"
        let bytes = Array(text.utf8)
        for line in lines { note("← \(line)") }
        if let urc { note("← \(urc) (URC inside the response)") }
        note("← \(final)")
        if delay > .zero {
            _ = clock.schedule(after: delay) { [self] in write(bytes) }
        } else {
            write(bytes)
        }
    }

    func send(urc: String) {
        let (alive, lost) = state.withLock { state -> (Bool, Bool) in
            guard state.loseURCs > 0 else { return (state.powered && !state.hung, false) }
            state.loseURCs -= 1
            return (state.powered && !state.hung, true)
        }
        guard alive else { return }
        if lost {
            note("!! URC lost on the line: \(urc)")
            return
        }
        note("← \(urc) (URC)")
        write(Array("\r\n\(urc)\r\n".utf8))
    }

    func error(_ verbose: String, code: Int, sms: Bool = false) -> String {
        let kind = sms ? "+CMS ERROR" : "+CME ERROR"
        return state.withLock { $0.verboseErrors } ? "\(kind): \(verbose)" : "\(kind): \(code)"
    }
}
