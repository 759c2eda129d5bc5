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
    public init() {}
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
