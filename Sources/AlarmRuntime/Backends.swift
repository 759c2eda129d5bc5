import ALSA
import AlarmCore
import HAL

/// The backends serving each role, chosen by the board file. Optional roles may be absent.
public struct Backends: Sendable {
    public var button: any ButtonInput
    public var position: any PositionSourceDevice
    public var network: any NetworkMonitor
    public var calls: any VoiceCalls
    public var sms: any SMSSender
    public var reportLink: any ReportLink
    public var audio: (any AudioCapture)?
    public var vibrator: (any Vibrator)?
    public var power: (any PowerMonitor)?
    /// The audio amplifier's enable line, held off for silence (boards with `silence: "amplifier-off"`).
    public var amplifierEnable: (any OutputLine)?
    public var store: any RecordStore
    /// The alarm journal (sealed on device boards); nil keeps state in memory only (tests that do not restart).
    public var journal: (any JournalStore)?
    /// The modem, when it wants to know that an alarm is active.
    public var alarmAwareModem: (any AlarmAwareModem)?
    /// The text of a fallback SMS; boards get the sealed format unless they ask for plain text. nil: plain text
    /// (direct constructions in tests).
    /// Evidence recording (boards with an `evidence` section and a microphone).
    public var evidence: EvidenceRecording?
    /// Microphone → modem during calls (boards with a `voiceOut` role).
    public var voiceBridge: AudioBridge?
    public var smsText: (@Sendable (Report, _ battery: Int?, _ signal: Int?) throws -> String)?

    public init(button: any ButtonInput, position: any PositionSourceDevice, network: any NetworkMonitor,
                calls: any VoiceCalls, sms: any SMSSender, reportLink: any ReportLink,
                audio: (any AudioCapture)? = nil, vibrator: (any Vibrator)? = nil, power: (any PowerMonitor)? = nil,
                amplifierEnable: (any OutputLine)? = nil, store: any RecordStore) {
        self.button = button
        self.position = position
        self.network = network
        self.calls = calls
        self.sms = sms
        self.reportLink = reportLink
        self.audio = audio
        self.vibrator = vibrator
        self.power = power
        self.amplifierEnable = amplifierEnable
        self.store = store
    }
}
