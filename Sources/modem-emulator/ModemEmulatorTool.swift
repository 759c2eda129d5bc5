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
    @Flag(help: "Start without network registration.") var unregistered = false
    @Flag(help: "Do not print the AT transcript.") var quiet = false

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var settings = EmulatorSettings()
        settings.answerAfter = .milliseconds(Int64(answerAfter * 1000))
        if unregistered { settings.registration = .searching }
        let printTranscript = !quiet
        let emulator = ModemEmulator(clock: SystemClock(), settings: settings) { line in
            if printTranscript { Output.line(line) }
        }
        let pty = try PTYModemEmulator(emulator: emulator, link: link)
        Output.line("modem-emulator: AT port on \(pty.devicePath)" + (link.map { " (link \($0))" } ?? ""))
        Output.line("type 'help' for control commands")

        let input = DispatchSource.makeReadSource(fileDescriptor: 0, queue: .main)
        var buffer: [UInt8] = []
        input.setEventHandler {
            let bytes = (try? FileDescriptor(rawValue: 0).read(upTo: 4096)) ?? []
            if bytes.isEmpty {
                input.cancel()
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
        let stop = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
        signal(SIGTERM, SIG_IGN)
        stop.setEventHandler {
            pty.close()
            Glibc.exit(0)
        }
        stop.resume()
        withExtendedLifetime((input, stop)) { dispatchMain() }
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
          status                    calls, mute violations, call waiting
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
        case "answer-after":
            guard let seconds = argument.flatMap({ Double($0) }), seconds >= 0, seconds < 3600 else { return "expected seconds" }
            emulator.setAnswerDelay(.milliseconds(Int64(seconds * 1000)))
            return "ok"
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
        case "status":
            return "active calls \(emulator.activeCallCount), call waiting \(emulator.callWaitingEnabled ? "on" : "off"), "
                + "mute violations \(emulator.microphoneMuteViolations), callers turned away \(emulator.callersTurnedAwayByNetwork)"
        default:
            return "unknown command \(command) (type help)"
        }
    }
}
