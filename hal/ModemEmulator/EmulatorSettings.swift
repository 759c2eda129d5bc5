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
    public init() {}
}

/// How the scripted network treats the next outgoing call.
public enum EmulatedCallOutcome: String, Sendable, Hashable, CaseIterable {
    case answer, busy, noAnswer = "no-answer", noCarrier = "no-carrier", silence
}
