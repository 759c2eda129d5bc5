import AlarmCore

/// The scripted network and the modem's identity, as the emulator starts.
public struct EmulatorSettings: Sendable, Hashable {
    public var registration: Registration = .home
    /// Not registered but a cell is heard: emergency calls still go through.
    public var emergencyCallsPossible = true
    public var signal = 21
    public var areaCode = 0x3E9
    public var cellID = 0x1A2B3C
    /// 27.007 AcT: 7 = E-UTRAN.
    public var accessTechnology = 7
    public var operatorCode = "20601"
    public var imei = "861234050123456"
    public var imsi = "206011234567890"
    public var iccid = "8932011234567890123"
    public var simPresent = true
    /// A PIN-locked SIM: `+CPIN: SIM PIN` until `AT+CPIN="<pin>"`.
    public var simPIN: String?
    /// Quectel-style `RDY` after boot.
    public var announcesReady = true
    public var bootTime: Duration = .milliseconds(300)
    public var alertAfter: Duration = .milliseconds(300)
    public var answerAfter: Duration = .seconds(2)
    public var emergencyNumbers: Set<String> = ["112"]
    /// How long the network takes to answer a supplementary-service request (`AT+CCWA` with a mode or `?`,
    /// `AT+CLCK` on a network facility, `AT+CCFC`, `AT+CUSD` with a string). Real networks take 1–5 s, and the
    /// module's single AT channel answers nothing else meanwhile. Zero answers at once.
    public var supplementaryServiceDelay: Duration = .zero
    /// False: the network refuses to switch call waiting (`+CME ERROR: 4`), so a second caller still knocks.
    public var callWaitingControllable = true
    /// How long the network takes to accept an outgoing call before `ATD…;` answers OK. The call is listed
    /// (dialing) at once; alerting and answering are scheduled from the acceptance. Zero answers at once.
    public var dialAcceptDelay: Duration = .zero
    /// What `AT+CEER` prints: firmwares disagree, and the driver must read each of them.
    public var ceerStyle: CEERStyle = .generic
    /// What `AT+CCLK?` answers: the network's time (NITZ) or, without NITZ, the module's default clock.
    public var networkTime: EmulatedNetworkTime = .nitz
    /// The network's time minus the emulator clock's wall time (a test whose device clock is wrong on purpose can
    /// still get a true NITZ).
    public var networkTimeSkew: Duration = .zero
    public init() {}
}

/// NITZ is optional for operators: without it a module's clock stays at its power-on default, and `AT+CCLK?`
/// answers that.
public enum EmulatedNetworkTime: Sendable, Hashable {
    /// The network's time, as a modem shows it: local time and the zone in quarter hours.
    case nitz
    /// No network time: this `+CCLK` value, e.g. `04/01/01,00:00:00+00`.
    case moduleDefault(String)

    /// Quectel EC2x/EG2x without NITZ.
    public static let quectelDefault = EmulatedNetworkTime.moduleDefault("04/01/01,00:00:00+00")
    /// SIMCom (the GPS epoch) without NITZ.
    public static let simcomDefault = EmulatedNetworkTime.moduleDefault("80/01/06,00:00:00+00")
}

/// The `AT+CEER` dialects the emulator can speak.
public enum CEERStyle: String, Sendable, Hashable, CaseIterable {
    /// `+CEER: 16,"Normal call clearing"`: a cause number and the 24.008 text.
    case generic
    /// Quectel EC2x/EG2x: a category naming the protocol layer, then the cause text:
    /// `+CEER: "CC INFO","Normal call clearing"`.
    case quectel
    /// SIMCom (seen on an A7672 in the field): one quoted string holding the number and the text:
    /// `+CEER: "16 Normal call clearing"`, `+CEER: "0 Unknown"` after a local hang-up.
    case simcom
    /// Firmware that refuses the command: a bare `ERROR`.
    case error
}

/// How the scripted network treats the next outgoing call.
public enum EmulatedCallOutcome: String, Sendable, Hashable, CaseIterable {
    case answer, busy, noAnswer = "no-answer", noCarrier = "no-carrier", silence
}
