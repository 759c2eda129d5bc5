import AlarmCore
import AlarmRuntime
import HAL
import ModemEmulator
import SimBackends

/// Drives a running device's simulated backends from outside: what `alarmctl sim …` says.
public struct SimControl: Sendable {
    public let world: SimWorld
    let clock: any Clock

    public init(world: SimWorld, clock: any Clock) {
        self.world = world
        self.clock = clock
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ text: String) { description = text }
    }

    public static var usage: String { SimulationCommandsUsage.text }

    public func perform(_ arguments: [String]) throws(Failure) -> String {
        guard let action = arguments.first else { throw Failure("missing action; one of:\n\(Self.usage)") }
        let rest = Array(arguments.dropFirst())
        switch action {
        case "press":
            let button = try need(world.button, "button")
            if let text = rest.first {
                guard let hold = DurationText.parse(text) else { throw Failure("expected a duration such as 2.5s, got \"\(text)\"") }
                button.press(holding: hold)
                return "button pressed for \(DurationText.format(hold))"
            }
            button.press()
            return "button pressed"
        case "release":
            try need(world.button, "button").release()
            return "button released"
        case "button-lost":
            try need(world.button, "button").loseDevice()
            return "button device removed"
        case "button-restored":
            try need(world.button, "button").restoreDevice()
            return "button device back"
        case "fix":
            guard rest.count >= 2, let lat = Double(rest[0]), let lon = Double(rest[1]),
                  (-90...90).contains(lat), (-180...180).contains(lon) else {
                throw Failure("expected LAT LON [ACCURACY] in degrees and metres")
            }
            let accuracy = rest.count > 2 ? Double(rest[2]) ?? -1 : 5
            guard accuracy.isFinite, accuracy > 0 else { throw Failure("expected a positive accuracy in metres") }
            try need(world.position, "position").setFix(latitude: lat, longitude: lon, accuracy: accuracy)
            return "receiver pinned"
        case "drop-fix":
            try need(world.position, "position").dropFix()
            return "fix dropped"
        case "restore-fix":
            try need(world.position, "position").restoreFix()
            return "fix restored"
        case "network":
            guard let text = rest.first, let registration = Registration(rawValue: text) else {
                throw Failure("expected home, roaming, searching, denied or not-registered")
            }
            try need(world.network, "modem").setRegistration(
                registration, emergencyCallsPossible: registration.isRegistered || rest.dropFirst().contains("emergency"))
            return "network \(registration.rawValue)"
        case "outcome":
            guard let text = rest.first, try need(world.network, "modem").scriptNextCall(text) else {
                throw Failure("expected one of answer, busy, no-answer, no-carrier, silence")
            }
            return "next call: \(text)"
        case "answer-after":
            guard let text = rest.first, let delay = DurationText.parse(text) else { throw Failure("expected a duration") }
            try need(world.network, "modem").setAnswerDelay(delay)
            return "far end answers after \(DurationText.format(delay))"
        case "drop-call":
            try need(world.network, "modem").dropCalls()
            return "calls dropped"
        case "centre-hangup":
            try need(world.network, "modem").centreHangsUp()
            return "centre hung up"
        case "ring":
            guard let text = rest.first else { throw Failure("expected a number or \"withheld\"") }
            return try need(world.network, "modem").ring(from: text == "withheld" ? nil : text)
        case "battery":
            guard let text = rest.first, let percent = Int(text), (0...100).contains(percent) else {
                throw Failure("expected a percentage 0-100")
            }
            try need(world.power, "power").set(PowerStatus(batteryPercent: percent, charging: rest.contains("charging")))
            return "battery \(percent)%"
        case "centre":
            let behaviours: [String: SimCentreBehaviour] = ["ack": .acknowledge, "nak": .reject, "silent": .silent]
            guard let text = rest.first, let behaviour = behaviours[text] else { throw Failure("expected ack, nak or silent") }
            try need(world.reportLink, "reportLink").setBehaviour(behaviour)
            return "centre answers: \(text)"
        case "centre-end":
            try need(world.reportLink, "reportLink").sendCommand(.endAlarm)
            return "centre ended the alarm"
        case "modem-hang":
            try need(world.emulator, "modem (pty:sim)").hang()
            return "emulated modem hung"
        case "modem-power-cycle":
            try need(world.emulator, "modem (pty:sim)").powerCycle()
            return "emulated modem restarted"
        case "modem-garbage":
            let count = rest.first.flatMap { Int($0) } ?? 64
            guard (1...100_000).contains(count) else { throw Failure("expected a byte count 1-100000") }
            var noise: [UInt8] = []
            var seed: UInt32 = 0x9E37_79B9
            for _ in 0..<count {
                seed = seed &* 1_664_525 &+ 1_013_904_223
                noise.append(UInt8(truncatingIfNeeded: seed >> 24))
            }
            try need(world.emulator, "modem (pty:sim)").injectGarbage(noise)
            return "\(count) garbage bytes sent"
        case "modem-urc":
            guard !rest.isEmpty else { throw Failure("expected a URC line, e.g. RING") }
            try need(world.emulator, "modem (pty:sim)").injectURCInNextResponse(rest.joined(separator: " "))
            return "URC queued"
        case "data-drop":
            try need(world.emulator, "modem (pty:sim)").deactivateContext()
            return "data connection torn down by the network"
        case "cell":
            let technologies = ["gsm": 0, "umts": 2, "lte": 7]
            guard let name = rest.first, let act = technologies[name] else { throw Failure("expected gsm, umts or lte") }
            try need(world.emulator, "modem (pty:sim)").setAccessTechnology(act)
            return "serving cell is now \(name)"
        case "ims":
            guard let value = rest.first, value == "on" || value == "off" else { throw Failure("expected on or off") }
            try need(world.emulator, "modem (pty:sim)").setIMS(value == "on")
            return "IMS \(value)"
        case "sms":
            guard rest.count >= 2 else { throw Failure("expected a sender number and the text") }
            let delivered = try need(world.emulator, "modem (pty:sim)").deliverSMS(from: rest[0], text: rest.dropFirst().joined(separator: " "))
            guard delivered else { throw Failure("the emulated SIM's message memory is full") }
            return "SMS delivered to the modem"
        case "sms-sent":
            return try need(world.emulator, "modem (pty:sim)").submittedSMS.map { "\($0.number) \($0.text)" }.joined(separator: "\n")
        case "modem-gnss":
            let emulator = try need(world.emulator, "modem (pty:sim)")
            if rest == ["drop"] {
                emulator.dropGNSSFix()
                return "modem GNSS fix dropped"
            }
            guard rest.count == 2 || rest.count == 3, let lat = Double(rest[0]), let lon = Double(rest[1]),
                  (-90...90).contains(lat), (-180...180).contains(lon) else {
                throw Failure("expected LAT LON [HDOP] in degrees, or drop")
            }
            var position = EmulatedGNSSPosition(latitude: lat, longitude: lon)
            if rest.count == 3 {
                guard let hdop = Double(rest[2]), hdop > 0, hdop < 100 else { throw Failure("expected an HDOP above 0 and below 100") }
                position.hdop = hdop
            }
            emulator.setGNSSPosition(position)
            return "modem GNSS fix at \(lat), \(lon)"
        case "modem-transcript":
            let count = rest.first.flatMap { Int($0) } ?? 40
            return try need(world.emulator, "modem (pty:sim)").transcript.suffix(max(1, count)).joined(separator: "\n")
        default:
            throw Failure("unknown action \"\(action)\"; one of:\n\(Self.usage)")
        }
    }

    private func need<T>(_ backend: T?, _ role: String) throws(Failure) -> T {
        guard let backend else { throw Failure("role \(role) is not simulated on this board") }
        return backend
    }
}

extension SimControl: SimulationCommands {
    public func run(_ arguments: [String]) -> Result<String, SimulationCommandFailure> {
        do {
            return .success(try perform(arguments))
        } catch {
            return .failure(SimulationCommandFailure(error.description))
        }
    }
}
