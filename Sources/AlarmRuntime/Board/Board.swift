import ATModem
import AlarmCore
import HAL
import PosixIO

/// What a board is for. Simulated backends are only allowed where a simulator is expected.
public enum BoardKind: String, Sendable, CaseIterable {
    case simulator
    /// A HIL rig target: the real prototype, or the simulator standing in for it.
    case hil
    case device
}

/// How the board guarantees that nothing of the centre's voice is audible on the device.
/// Silence is hardware, not a volume setting: volume 0 is not silence on most modems, and
/// "mute" usually mutes the microphone, which would kill the listen-in.
public enum SilenceMethod: String, Sendable, CaseIterable {
    /// No speaker or earpiece is fitted.
    case noSpeaker = "no-speaker"
    /// The audio amplifier's enable line (role `amplifierEnable`) is held off by the runtime.
    case amplifierOff = "amplifier-off"
    /// Voice is carried over USB audio and the host never plays the downlink.
    case usbAudioNoPlayback = "usb-audio-no-playback"
}

public enum Role: String, Sendable, CaseIterable {
    case button, position, modem, reportLink, audio, vibrator, power, amplifierEnable
    /// The modem's USB-audio playback PCM: the microphone is bridged into it during calls (modems without an
    /// analogue microphone input).
    case voiceOut
    /// Output lines the AT driver pulses when a serial modem stops answering (`modemPower` preferred, else
    /// `modemReset`); active holds the modem off or in reset (docs/board-io.md).
    case modemPower, modemReset
}

/// The simulated world of a simulator or HIL board (`simulation` in a board file). Plain data: every build reads it,
/// only developer and HIL builds (AlarmSimulation) turn it into simulators; the device build has none to turn it into.
public struct SimulationSettings: Sendable {
    /// The simulated modem (and the byte-level emulator behind `pty:sim`): time to register, the network it
    /// registers on, its signal, and how long the far end takes to answer.
    public var registerAfter: Duration = .milliseconds(400)
    public var answerAfter: Duration = .seconds(2)
    public var registration: Registration = .home
    public var signal = 21
    public var route = SimulatedRoute()
    /// Slow storage (`simulation.storage.fsyncDelay`): each journal write takes this much longer, as on an SD card.
    public var journalFsyncDelay: Duration = .zero
    public init() {}
}

/// The walk of the simulated receiver (`simulation.route`).
public struct SimulatedRoute: Sendable {
    public var waypoints: [(latitude: Double, longitude: Double)] = [(51.0543, 3.7174)]
    /// Walking pace by default (m/s).
    public var speed = 1.4
    public var accuracy = 6.0
    /// The receiver starts without a fix for this long (a cold start).
    public var noFixFor: Duration = .zero
    public var idleInterval: Duration = .seconds(30)
    public var alarmInterval: Duration = .seconds(1)
    public init() {}
}

public struct Haptics: Sendable, Hashable {
    public var alarmRaised = VibrationPattern([120, 80, 120])
    public var delivered = VibrationPattern([700])

    public init() {}

    public func pattern(for indication: Indication) -> VibrationPattern {
        switch indication {
        case .alarmRaised: alarmRaised
        case .delivered: delivered
        }
    }
}

/// The modem's data connection that the report link rides on (`data` in a board file).
public struct DataSettings: Sendable {
    public var call: DataCallSettings
    /// The APN password's file (owner-only, like every secret); read at assembly, never logged.
    public var passwordFile: String?
    /// The modem's network interface (ECM/RNDIS/QMI) that the OS manages; nil when the board has none that
    /// the daemon should bind to and watch.
    public var interface: String?
    public var dataDuringCalls: DataDuringCalls = .lteAndUMTS
}

/// How reports are written for the receiving centre (`reporting` in a board file; docs/reporting.md).
public struct ReportingSettings: Sendable {
    public var format: String = "SIA-DCS"
    public var receiver: String?
    public var prefix: String
    public var account: String
    /// nil: frames go in clear (simulator boards that say `encryption: "none"`).
    public var keyFile: String?
    public var keyEncoding: String = "ascii-hex"
    /// The secondary receiver, `dc09+tcp://HOST:PORT` or `dc09+udp://HOST:PORT`.
    public var secondary: PortURI?
    /// The device's SMS key (64 hex digits, owner-only): seals fallback SMS and authenticates centre commands.
    public var smsKeyFile: String?
    /// `sealed` (default) or `plain` (an AML-like text, only when a board asks for it).
    public var smsFormat: String = "sealed"
    /// A DC-09 NULL frame after this long without any frame (`supervision`), so the centre sees a dead link; nil: off
    /// (never on a device board). Three minutes by default: a centre that supervises a high-risk victim's device wants
    /// to know within minutes that it went silent (EN 50136-1's shortest single-path reporting classes are minutes,
    /// not hours), and one NULL frame and its ACK every 3 min cost about 100 kB a day on the data plan.
    public var supervisionInterval: Duration? = .seconds(180)
}

/// Evidence recording (`evidence` in a board file; docs/audio.md).
public struct EvidenceSettings: Sendable {
    /// The receiving centre's X25519 public key (64 hex digits): recordings are sealed to it.
    public var centreKeyFile: String
    /// The device's Ed25519 signing key (64 hex digits, owner-only); simulator boards get one generated.
    public var signingKeyFile: String?
    public var preTrigger: Duration = .seconds(30)
    public var chunk: Duration = .seconds(5)
    public var storageLimitMB = 64
}

/// Where the HIL test port listens: Modbus TCP or RTU on a serial line.
public enum TestPortEndpoint: Sendable, Hashable {
    case tcp(host: String, port: UInt16)
    case rtu(device: String, baud: Int32, unit: Int32)
}

/// The HIL test port (`testPort` in a board file; docs/hil.md): Modbus, so unauthenticated, so never on a device
/// board, and not even linked into the device build.
public struct TestPortSettings: Sendable {
    public var endpoint: TestPortEndpoint
    /// A rig may press the button through the port (holding register 0 + coil 0).
    public var pressInjection = false
    /// Latitude and longitude in the map (zero otherwise).
    public var positions = true

    public init(endpoint: TestPortEndpoint) { self.endpoint = endpoint }
}

/// A board file, read and checked. Everything a board can choose lives here.
public struct Board: Sendable {
    public var file: String
    public var name: String
    public var kind: BoardKind
    public var deviceID: String
    public var silence: SilenceMethod
    public var roles: [Role: PortURI]
    public var storagePath: String
    /// The key that seals every record at rest (32 bytes, owner-only). Simulator and HIL boards get one
    /// generated on first start; device boards must have it provisioned.
    public var storageKeyPath: String
    public var controlSocketPath: String
    public var alarm: AlarmSettings
    public var haptics: Haptics
    public var simulation: SimulationSettings
    public var data: DataSettings?
    public var reporting: ReportingSettings?
    public var evidence: EvidenceSettings?
    public var testPort: TestPortSettings?
    /// The signed provisioning bundle the board names (`provisioning`).
    public var provisioningBundlePath: String?
    /// The verified bundle this board runs on, set by `ProvisionedBoard` (nil: not read through it).
    public var provisioning: ProvisioningStatus?

    public static func load(path: String) throws(BoardError) -> Board {
        try parse(try readFile(path), file: path)
    }

    /// A board file's bytes, or the error that names it.
    static func readFile(_ path: String) throws(BoardError) -> [UInt8] {
        let bytes: [UInt8]?
        do {
            bytes = try StorageDirectory.readFile(path)
        } catch {
            throw BoardError(file: path, key: "", problem: "cannot read the board file: \(error)")
        }
        guard let bytes else { throw BoardError(file: path, key: "", problem: "no such board file") }
        return bytes
    }

    public static func parse(_ bytes: [UInt8], file: String) throws(BoardError) -> Board {
        let document: JSONValue
        do {
            document = try JSONValue.parseJSON5(bytes)
        } catch {
            throw BoardError(file: file, key: "", problem: "not valid JSON5: \(error)")
        }
        var reader = try ConfigReader(file: file, path: "", value: document)
        return try BoardReader.read(&reader)
    }
}

extension Board {
    /// The microphone's period (one read, one wake-up) when the board does not say: 20 ms when it also feeds the
    /// listen-in bridge (`voiceOut`: its queue holds at most 60 ms), else 100 ms. A recording does not care about
    /// latency, and the idle daemon on an evidence board wakes once per period.
    public var defaultCapturePeriod: Duration { roles[.voiceOut] != nil ? .milliseconds(20) : .milliseconds(100) }

    /// `defaultCapturePeriod` in frames at `rate`.
    public func defaultCapturePeriodFrames(rate: Int) -> Int { Int(defaultCapturePeriod.milliseconds) * rate / 1000 }
}
