import BoardIO
import HAL
import Logging

/// A board-I/O port as a board file writes it, parsed and checked without touching any device:
///   button:                 input:/dev/input/…?key=KEY_PROG1
///                           gpio:/dev/gpiochip0?line=17[&active=low][&bias=pull-up][&debounce=30ms]
///   vibrator, amplifierEnable, modemPower, modemReset:
///                           gpio:/dev/gpiochip0?line=18[&active=low]   or   led:/sys/class/leds/NAME
///   power:                  power-supply:/sys/class/power_supply/NAME[?interval=60s]
/// Unknown query keys are refused: a misspelt `actve=low` must not silently drive the line the other way.
enum BoardIOPort: Equatable, Sendable {
    case inputKey(path: String, key: UInt16)
    case gpioInput(GPIOLineButton.Settings)
    case gpioOutput(chip: String, line: UInt32, activeLow: Bool)
    case led(directory: String)
    case powerSupply(directory: String, interval: Duration)

    static let buttonForms = "\"input:/dev/input/…?key=KEY_PROG1\" (a key name or number) or "
        + "\"gpio:/dev/gpiochipN?line=17[&active=low][&bias=pull-up|pull-down|disabled][&debounce=30ms]\""
    static let outputForms = "\"gpio:/dev/gpiochipN?line=18[&active=low]\" or \"led:/sys/class/leds/NAME\""
    static let powerForms = "\"power-supply:/sys/class/power_supply/NAME[?interval=60s]\""

    /// nil when the scheme is not a board-I/O one (the caller's other backends apply).
    static func parse(_ uri: PortURI, role: Role, file: String) throws(BoardError) -> BoardIOPort? {
        func problem(_ text: String) -> BoardError { BoardError(file: file, key: "roles.\(role.rawValue)", problem: text) }
        let isButton = role == .button
        let isPower = role == .power
        let forms = isButton ? buttonForms : isPower ? powerForms : outputForms

        func path() throws(BoardError) -> String {
            guard uri.target.hasPrefix("/"), uri.target.count > 1 else {
                throw problem("expected an absolute path after \"\(uri.scheme):\", got \"\(uri)\" (expected \(forms))")
            }
            return uri.target
        }
        func onlyKeys(_ allowed: Set<String>) throws(BoardError) {
            if let unknown = uri.query.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw problem("unknown setting \"\(unknown)\" in \"\(uri)\" (expected \(forms))")
            }
        }
        func line() throws(BoardError) -> UInt32 {
            guard let text = uri.query["line"] else { throw problem("line= missing in \"\(uri)\" (expected \(forms))") }
            guard let number = UInt32(text), number < 1024 else {
                throw problem("line: expected the line's number on the chip (0-1023), got \"\(text)\"")
            }
            return number
        }
        func activeLow() throws(BoardError) -> Bool {
            switch uri.query["active"] {
            case nil, "high": return false
            case "low": return true
            case let other?: throw problem("active: expected high or low, got \"\(other)\"")
            }
        }

        switch (uri.scheme, isButton, isPower) {
        case ("input", true, _):
            try onlyKeys(["key"])
            let target = try path()
            guard let name = uri.query["key"] else { throw problem("key= missing in \"\(uri)\" (expected \(forms))") }
            guard let key = KeyCode.parse(name) else {
                throw problem("key: expected one of \(KeyCode.named.keys.sorted().joined(separator: ", ")) or a key number, got \"\(name)\"")
            }
            return .inputKey(path: target, key: key)
        case ("gpio", true, _):
            try onlyKeys(["line", "active", "bias", "debounce"])
            var settings = GPIOLineButton.Settings(chip: try path(), line: try line())
            settings.activeLow = try activeLow()
            if let text = uri.query["bias"] {
                guard let bias = GPIOBias(rawValue: text) else {
                    throw problem("bias: expected one of \(GPIOBias.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
                }
                settings.bias = bias
            }
            if let text = uri.query["debounce"] {
                guard let period = DurationText.parse(text), period >= .milliseconds(1), period <= .seconds(1) else {
                    throw problem("debounce: expected a duration from 1ms to 1s such as \"30ms\", got \"\(text)\"")
                }
                settings.debounce = period
            }
            return .gpioInput(settings)
        case ("gpio", false, false):
            try onlyKeys(["line", "active"])
            return .gpioOutput(chip: try path(), line: try line(), activeLow: try activeLow())
        case ("led", false, false):
            try onlyKeys([])
            return .led(directory: try path())
        case ("power-supply", _, true):
            try onlyKeys(["interval"])
            var interval = Duration.seconds(60)
            if let text = uri.query["interval"] {
                guard let value = DurationText.parse(text), value >= .seconds(5) else {
                    throw problem("interval: expected a duration of at least 5s such as \"60s\", got \"\(text)\"")
                }
                interval = value
            }
            return .powerSupply(directory: try path(), interval: interval)
        default:
            return nil
        }
    }
}

extension DeviceAssembly {
    /// The button from `input:` or `gpio:`; nil for other schemes. `stop` ends its reader thread.
    static func boardIOButton(_ board: Board, _ uri: PortURI, clock: any Clock,
                              logger: Logger) throws(BoardError) -> (button: any ButtonInput, stop: @Sendable () -> Void)? {
        let port = try BoardIOPort.parse(uri, role: .button, file: board.file)
        do {
            switch port {
            case .inputKey(let path, let key)?:
                let button = try InputEventButton(path: path, keyCode: key, clock: clock, logger: logger)
                return (button, { button.stop() })
            case .gpioInput(let settings)?:
                let button = try GPIOLineButton(settings: settings, clock: clock, logger: logger)
                return (button, { button.stop() })
            default:
                return nil
            }
        } catch {
            throw BoardError(file: board.file, key: "roles.button", problem: "\(uri): \(error.message)")
        }
    }

    /// An output line from `gpio:` or `led:` for `role`; nil for other schemes. Nothing is opened yet: the
    /// line is requested when it is first driven.
    static func boardIOOutputLine(_ board: Board, _ role: Role, _ uri: PortURI) throws(BoardError) -> (any OutputLine)? {
        switch try BoardIOPort.parse(uri, role: role, file: board.file) {
        case .gpioOutput(let chip, let line, let activeLow)?:
            return GPIOOutputLine(chip: chip, line: line, activeLow: activeLow, consumer: "alarmd \(role.rawValue)")
        case .led(let directory)?:
            return LEDClassLine(directory: directory)
        default:
            return nil
        }
    }

    /// The battery from `power-supply:`; nil for other schemes.
    static func boardIOPower(_ board: Board, _ uri: PortURI, clock: any Clock, logger: Logger) throws(BoardError) -> PowerSupplyMonitor? {
        guard case .powerSupply(let directory, let interval)? = try BoardIOPort.parse(uri, role: .power, file: board.file) else {
            return nil
        }
        return PowerSupplyMonitor(directory: directory, interval: interval, clock: clock, logger: logger)
    }

    /// The line the AT driver pulses when the modem stops answering (`ATModemDriver.powerCycle`): asserted for
    /// `powerPulse` (1 s), then released. `modemPower` when the board has it, else `modemReset`. Either must be
    /// wired so that *active* holds the modem off or in reset and *inactive* lets it run: a reset input
    /// (RESET_N, `active=low`) or a supply switch (its enable with `active=low` if high means powered). A
    /// PWRKEY-style toggle input is not suitable: a 1 s pulse switches a running modem off and leaves it off.
    static func modemPowerLine(_ board: Board) throws(BoardError) -> (any OutputLine)? {
        for role in [Role.modemPower, .modemReset] {
            guard let uri = board.roles[role] else { continue }
            guard let line = try boardIOOutputLine(board, role, uri) else {
                throw BoardError(file: board.file, key: "roles.\(role.rawValue)",
                                 problem: "no backend for \"\(uri)\" (expected \(BoardIOPort.outputForms))")
            }
            return line
        }
        return nil
    }
}
