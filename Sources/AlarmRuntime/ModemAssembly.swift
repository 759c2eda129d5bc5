import ATModem
import AlarmCore
import Glibc
import HAL
import Logging
import PosixIO

/// The modem role, whichever backend serves it.
public struct AssembledModem: Sendable {
    public var network: any NetworkMonitor
    public var calls: any VoiceCalls
    public var sms: any SMSSender
    public var alarmAware: (any AlarmAwareModem)?
    public var driver: ATModemDriver?
    /// Whether the (simulated) network carries data, for the in-process report link.
    public var dataAvailable: @Sendable () -> Bool
    public var afterStart: [@Sendable () -> Void] = []
    public var teardown: [@Sendable () -> Void] = []

    public init(network: any NetworkMonitor, calls: any VoiceCalls, sms: any SMSSender, alarmAware: (any AlarmAwareModem)?,
                driver: ATModemDriver?, dataAvailable: @escaping @Sendable () -> Bool,
                afterStart: [@Sendable () -> Void] = [], teardown: [@Sendable () -> Void] = []) {
        self.network = network
        self.calls = calls
        self.sms = sms
        self.alarmAware = alarmAware
        self.driver = driver
        self.dataAvailable = dataAvailable
        self.afterStart = afterStart
        self.teardown = teardown
    }
}

extension DeviceAssembly {
    /// The modem profile a modem URI names (`?profile=quectel-ec25` by default).
    public static func modemProfile(_ board: Board, _ uri: PortURI) throws(BoardError) -> ModemProfile {
        let profileName = uri.query["profile"] ?? "quectel-ec25"
        guard let profile = ModemProfile.named(profileName) else {
            throw BoardError(file: board.file, key: "roles.modem",
                             problem: "unknown modem profile \"\(profileName)\" (expected one of \(ModemProfile.all.map(\.name).joined(separator: ", ")))")
        }
        return profile
    }

    /// The board's data call, with the APN password read from its secret file.
    public static func dataCall(_ board: Board) throws(BoardError) -> DataCallSettings? {
        var dataCall = board.data?.call
        if let file = board.data?.passwordFile {
            dataCall?.password = try readSecretLine(file, board: board, key: "data.passwordFile", expected: "1-64 printable characters",
                                                    valid: { (1...64).contains($0.count) && $0.allSatisfy { $0.isASCII && !$0.isNewline && $0 != "\"" } })
        }
        return dataCall
    }

    /// `serial:/dev/ttyUSB2?baud=115200&flow=rtscts&profile=quectel-ec25` — a real modem; nil for any other scheme
    /// (simulated modems come from an `AssemblyExtension`).
    static func assembleModem(_ board: Board, _ uri: PortURI, clock: any Clock, logger: Logger) throws(BoardError) -> AssembledModem? {
        func problem(_ text: String) -> BoardError { BoardError(file: board.file, key: "roles.modem", problem: text) }
        guard uri.scheme == "serial" else { return nil }
        let profile = try modemProfile(board, uri)
        let dataCall = try dataCall(board)
        switch uri.scheme {
        case "serial":
            guard !uri.target.isEmpty else { throw problem("expected serial:/dev/PORT?baud=115200") }
            let baud = Int(uri.query["baud"] ?? "115200") ?? -1
            guard [9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600].contains(baud) else {
                throw problem("baud: expected a standard rate such as 115200, got \(uri.query["baud"] ?? "")")
            }
            let flow = uri.query["flow"] ?? "none"
            guard flow == "none" || flow == "rtscts" else { throw problem("flow: expected none or rtscts, got \(flow)") }
            var driverSettings = ATModemSettings()
            driverSettings.data = dataCall
            driverSettings.usbAudio = board.roles[.voiceOut] != nil
            if let pinFile = uri.query["pin"] { driverSettings.simPIN = try readPIN(pinFile, board: board) }
            switch uri.query["gnss"] {
            case nil, "off": break
            case "on": driverSettings.enableGNSS = true
            case let other?: throw problem("gnss: expected on or off, got \(other)")
            }
            // A hung modem is power-cycled through `modemPower`, else `modemReset` (BoardIOAssembly.swift).
            return attachDriver(profile: profile,
                                settings: .init(path: uri.target, baud: baud, hardwareFlowControl: flow == "rtscts"),
                                driverSettings: driverSettings, clock: clock, logger: logger,
                                powerLine: try modemPowerLine(board),
                                dataAvailable: { true })
        default:
            return nil
        }
    }

    /// The AT driver on a serial line (a real modem, or the emulator's pty in developer builds).
    public static func attachDriver(profile: ModemProfile, settings: SerialModemPort.Settings,
                             driverSettings: ATModemSettings = ATModemSettings(), clock: any Clock, logger: Logger,
                             powerLine: (any OutputLine)?, dataAvailable: @escaping @Sendable () -> Bool) -> AssembledModem {
        let port = SerialModemPort(settings: settings, clock: clock, logger: logger)
        let driver = ATModemDriver(profile: profile, clock: clock, logger: logger, settings: driverSettings,
                                   powerLine: powerLine, write: { port.write($0) })
        port.connect(bytes: { driver.receive($0) }, opened: { driver.portOpened() }, closed: { driver.portClosed() })
        return AssembledModem(network: driver, calls: driver, sms: driver, alarmAware: driver, driver: driver,
                              dataAvailable: dataAvailable, afterStart: [{ port.open() }], teardown: [{ port.close() }])
    }
}

extension DeviceAssembly {
    /// The SIM PIN from its file: owned by the daemon's user, readable by nobody else, 4-8 digits.
    /// A one-line secret (an APN password) from a file only the daemon's user can read.
    static func readSecretLine(_ path: String, board: Board, key: String, expected: String,
                               valid: (String) -> Bool) throws(BoardError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try SecretFile.read(path, limit: 256)
        } catch {
            throw BoardError(file: board.file, key: key, problem: "\(path): \(error.description)")
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last?.isNewline == true { text.removeLast() }
        guard valid(text) else { throw BoardError(file: board.file, key: key, problem: "\(path): expected \(expected)") }
        return text
    }

    static func readPIN(_ path: String, board: Board) throws(BoardError) -> String {
        func refuse(_ text: String) -> BoardError {
            BoardError(file: board.file, key: "roles.modem", problem: "PIN file \(path): \(text)")
        }
        let bytes: [UInt8]
        do {
            bytes = try SecretFile.read(path, limit: 64)
        } catch {
            throw refuse(error.description)
        }
        let pin = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        guard (4...8).contains(pin.count), pin.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw refuse("expected 4-8 digits")
        }
        return pin
    }
}
