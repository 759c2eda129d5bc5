import AlarmCore
import ArgumentParser
import Dispatch
import Glibc
import HAL
import LinuxBackends
import ModemEmulator
import PosixIO

/// A cellular modem on a pseudo-terminal, for trying the driver (or minicom, or another modem library)
/// by hand. Prints the device path, logs the AT transcript, and takes control commands on stdin.
@main
struct ModemEmulatorTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modem-emulator",
        abstract: "A 3GPP 27.007 modem on a pseudo-terminal, with a scripted network and fault injection.",
        discussion: ControlCommands.help)

    @Option(help: "Also create this symlink to the pty (e.g. .sim/modem.tty).") var link: String?
    @Option(help: "Seconds until the far end answers a call.") var answerAfter: Double = 2
    @Option(help: "Seconds the network takes to answer AT+CCWA/AT+CLCK/AT+CCFC/AT+CUSD (real networks: 1-5); the AT channel is busy meanwhile.")
    var supplementaryDelay: Double = 0
    @Option(help: "Seconds before ATD answers OK (the network accepting the call); the call is listed as dialing meanwhile.")
    var dialAcceptDelay: Double = 0
    @Option(help: "What AT+CEER prints: generic, quectel, simcom, or error (the firmware answers ERROR).")
    var ceer: String = "generic"
    @Flag(help: "Start without network registration.") var unregistered = false
    @Flag(help: "No network time (NITZ): AT+CCLK? answers the module's default clock (--default-clock).")
    var noNitz = false
    @Option(help: "The +CCLK value without NITZ: Quectel 04/01/01,00:00:00+00, SIMCom 80/01/06,00:00:00+00.")
    var defaultClock = "04/01/01,00:00:00+00"
    @Flag(help: "Do not print the AT transcript.") var quiet = false
    @Flag(help: "Prefix each transcript line with the CLOCK_MONOTONIC nanoseconds at which it was noted (`<ns> → <line>`; a received command is noted as its CR is read), for benchmarks on the same machine.")
    var stamp = false
    @Flag(help: "A network that refuses to switch call waiting (AT+CCWA=1,0 gets +CME ERROR: 4): a second caller still knocks.")
    var callWaitingFixed = false
    @Flag(help: "Keep running when stdin ends (a soak test or service without a control pipe); stop with SIGTERM/SIGINT.")
    var keepRunning = false

    func validate() throws {
        guard CEERStyle(rawValue: ceer) != nil else {
            throw ValidationError("--ceer must be one of \(CEERStyle.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for (name, value) in [("--answer-after", answerAfter), ("--supplementary-delay", supplementaryDelay), ("--dial-accept-delay", dialAcceptDelay)]
        where !(0..<3600).contains(value) {
            throw ValidationError("\(name) must be 0 to 3600 seconds")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var settings = EmulatorSettings()
        settings.answerAfter = ControlCommands.duration(seconds: answerAfter)
        settings.supplementaryServiceDelay = ControlCommands.duration(seconds: supplementaryDelay)
        settings.dialAcceptDelay = ControlCommands.duration(seconds: dialAcceptDelay)
        settings.ceerStyle = CEERStyle(rawValue: ceer) ?? .generic
        settings.callWaitingControllable = !callWaitingFixed
        if unregistered { settings.registration = .searching }
        if noNitz { settings.networkTime = .moduleDefault(defaultClock) }
        let printTranscript = !quiet
        let stamped = stamp
        let emulator = ModemEmulator(clock: SystemClock(), settings: settings) { line in
            guard printTranscript else { return }
            // Taken before printing: the instant the emulator handled the line (for `→`, the read of its CR).
            Output.line(stamped ? "\(SystemTime.monotonicNanoseconds()) \(line)" : line)
        }
        let pty = try PTYModemEmulator(emulator: emulator, link: link)
        Output.line("modem-emulator: AT port on \(pty.devicePath)" + (link.map { " (link \($0))" } ?? ""))
        Output.line("type 'help' for control commands")

        let input = DispatchSource.makeReadSource(fileDescriptor: 0, queue: .main)
        var buffer: [UInt8] = []
        let keepRunning = keepRunning
        input.setEventHandler {
            let bytes: [UInt8]
            do throws(Errno) {
                bytes = try FileDescriptor(rawValue: 0).read(upTo: 4096)
            } catch where error == .wouldBlock || error == .interrupted {
                return  // a spurious wake-up, not the end of the control stream
            } catch {
                bytes = []
            }
            if bytes.isEmpty {
                input.cancel()
                if keepRunning {
                    Output.line("modem-emulator: control input ended; still running (--keep-running)")
                    return
                }
                pty.close()
                Glibc.exit(0)
            }
            buffer += bytes
            while let end = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...end)
                Output.line(ControlCommands.run(line, on: emulator))
            }
        }
        input.resume()
        // SIGTERM and SIGINT both remove the link, so a restarted soak run does not find a stale one.
        let stops = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            signal(number, SIG_IGN)
            source.setEventHandler {
                pty.close()
                Glibc.exit(0)
            }
            source.resume()
            return source
        }
        withExtendedLifetime((input, stops)) { dispatchMain() }
    }
}

enum Output {
    static func line(_ text: String) {
        print(text)
        fflush(nil)
    }
}

/// The stdin control commands (also documented in docs/modem.md).
enum ControlCommands {
    static let help = """
        Control commands (one per line on stdin):
          register home|roaming|searching|denied|not-registered   change registration (URCs follow)
          signal N                  RSSI 0-31 (99 unknown)
          sim present|absent        SIM inserted or not
          next answer|busy|no-answer|no-carrier|silence   outcome of the next outgoing call
          answer-after SECONDS      how long the far end takes to answer
          supplementary-delay SECONDS   network delay for AT+CCWA/CLCK/CCFC/CUSD (channel busy meanwhile)
          dial-accept-delay SECONDS how long ATD waits for the network before OK
          ceer generic|quectel|simcom|error   what AT+CEER prints
          ring NUMBER|withheld      an incoming call (a waiting call if one is up)
          caller-hangup             the caller of a ringing call gives up
          hangup                    the far end of the active call hangs up (normal clearing)
          drop                      the radio link drops every call
          hang                      stop answering until power-cycled
          power-cycle               restart (RDY, settings forgotten)
          garbage N                 N noise bytes on the line
          urc LINE                  LINE inside the next response
          delay SECONDS             delay every response
          sms                       list the SMS submitted so far
          deliver-sms FROM TEXT…    the network delivers an SMS to the modem (e.g. a signed centre command)
          calls                     the calls +CLCC would list, one per line
          ended [FROM]              the calls that ended and what ended each (from the FROM-th on, 0-based)
          status                    one machine-readable line: status key=value …
        """

    static func run(_ line: String, on emulator: ModemEmulator) -> String {
        let words = line.split(separator: " ").map(String.init)
        guard let command = words.first else { return "" }
        let argument = words.dropFirst().first
        switch command {
        case "help": return help
        case "register":
            guard let text = argument, let registration = Registration(rawValue: text) else { return "expected a registration state" }
            emulator.setRegistration(registration)
            return "ok: \(registration.rawValue)"
        case "signal":
            guard let value = argument.flatMap({ Int($0) }), (0...31).contains(value) || value == 99 else { return "expected 0-31 or 99" }
            emulator.setSignal(value)
            return "ok"
        case "sim":
            emulator.setSIMPresent(argument != "absent")
            return "ok"
        case "next":
            guard let text = argument, let outcome = EmulatedCallOutcome(rawValue: text) else {
                return "expected one of \(EmulatedCallOutcome.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            emulator.queueOutcomes([outcome])
            return "ok"
        case "answer-after", "supplementary-delay", "dial-accept-delay":
            guard let seconds = argument.flatMap({ Double($0) }), seconds >= 0, seconds < 3600 else { return "expected seconds" }
            let delay = duration(seconds: seconds)
            switch command {
            case "answer-after": emulator.setAnswerDelay(delay)
            case "supplementary-delay": emulator.setSupplementaryServiceDelay(delay)
            default: emulator.setDialAcceptDelay(delay)
            }
            return "ok"
        case "ceer":
            guard let text = argument, let style = CEERStyle(rawValue: text) else {
                return "expected one of \(CEERStyle.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            emulator.setCEERStyle(style)
            return "ok"
        case "calls":
            let calls = emulator.calls
            return calls.isEmpty ? "no calls" : calls.map { "call \($0.index) \($0.incoming ? "in" : "out") stat=\($0.state) \($0.number)" }
                .joined(separator: "\n")
        case "ended":
            var ended = emulator.endedCalls
            if let text = argument {
                guard let from = Int(text), from >= 0 else { return "expected a count of ended calls to skip" }
                ended = Array(ended.dropFirst(from))
            }
            return ended.isEmpty ? "no ended calls" : ended.map { "ended \($0.index) \($0.number) stat=\($0.state) by=\($0.endedBy)" }
                .joined(separator: "\n")
        case "ring":
            guard let text = argument else { return "expected a number or withheld" }
            return emulator.ring(from: text == "withheld" ? nil : text) ? "ringing" : "caller got busy (call waiting off)"
        case "caller-hangup": emulator.callerHangsUp(); return "ok"
        case "hangup": emulator.remoteHangUp(); return "ok"
        case "drop": emulator.dropCalls(); return "ok"
        case "hang": emulator.hang(); return "ok: no answers until power-cycle"
        case "power-cycle": emulator.powerCycle(); return "ok"
        case "garbage":
            let count = argument.flatMap { Int($0) } ?? 64
            emulator.injectGarbage((0..<max(1, min(count, 100_000))).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
            return "ok"
        case "urc":
            emulator.injectURCInNextResponse(words.dropFirst().joined(separator: " "))
            return "ok"
        case "delay":
            guard let seconds = argument.flatMap({ Double($0) }), seconds >= 0, seconds < 600 else { return "expected seconds" }
            emulator.setResponseDelay(.milliseconds(Int64(seconds * 1000)))
            return "ok"
        case "sms":
            let sent = emulator.submittedSMS
            return sent.isEmpty ? "no SMS" : sent.map { "\($0.number): \($0.text)" }.joined(separator: "\n")
        case "deliver-sms":
            let text = words.dropFirst(2).joined(separator: " ")
            guard let sender = argument, !text.isEmpty else { return "expected a sender number and the text" }
            return emulator.deliverSMS(from: sender, text: text) ? "ok: SMS delivered" : "the SIM's message memory is full"
        case "status":
            return status(of: emulator)
        default:
            return "unknown command \(command) (type help)"
        }
    }

    /// One line of `key=value` pairs, stable for scripts and soak tests; new keys are only ever appended.
    static func status(of emulator: ModemEmulator) -> String {
        let calls = emulator.calls
        func count(_ stat: Int) -> Int { calls.filter { $0.state == stat }.count }
        let fields: [(String, String)] = [
            ("calls", "\(calls.count)"),
            ("active", "\(count(0))"),
            ("held", "\(count(1))"),
            ("dialing", "\(count(2))"),
            ("alerting", "\(count(3))"),
            ("ringing", "\(count(4))"),
            ("waiting", "\(count(5))"),
            ("dialled", "\(emulator.dialAttempts.count)"),
            ("hangupAllWithCalls", "\(emulator.hangUpAllCommandsWithCalls)"),
            ("endedByHangUpAll", "\(emulator.callsEndedByHangUpAll)"),
            ("ended", "\(emulator.endedCalls.count)"),
            ("supplementary", "\(emulator.supplementaryServiceRequestCount)"),
            ("callWaiting", emulator.callWaitingEnabled ? "on" : "off"),
            ("muteViolations", "\(emulator.microphoneMuteViolations)"),
            ("turnedAway", "\(emulator.callersTurnedAwayByNetwork)"),
            ("commands", "\(emulator.commandCount)"),
            ("busy", emulator.atChannelBusy ? "yes" : "no"),
        ]
        return "status " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }

    static func duration(seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
}
