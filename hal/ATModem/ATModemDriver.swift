import AlarmCodecs
import AlarmCore
import HAL
import Logging
import Synchronization

/// A 3GPP TS 27.007/27.005 modem behind the AT engine: start-up, registration, voice calls tracked through
/// +CLCC with the end cause from +CEER, incoming and waiting calls, SMS in PDU mode, recovery.
/// The transport (a serial port, or the emulator's pty) is not its business: it gets bytes and writes bytes.
public final class ATModemDriver: NetworkMonitor, VoiceCalls, SMSSender, AlarmAwareModem, Sendable {
    public enum Phase: String, Sendable { case starting, ready, recovering, down }

    struct TrackedCall: Sendable {
        var id: CallID
        var state: CallListEntry.State?
        var reported: CallProgress?
        /// Known from the list for calls found at start (their ids do not say).
        var direction: CallListEntry.Direction? = nil
    }

    struct State {
        var phase = Phase.down
        var generation = 0
        var cs: RegistrationReport?
        var eps: RegistrationReport?
        var ps: RegistrationReport?
        var data = DataState()
        var signal: Int?
        var simPresent = true
        var mcc: Int?
        var mnc: Int?
        /// Calls by their +CLCC index.
        var calls: [Int: TrackedCall] = [:]
        /// A dial whose call has not shown up in +CLCC yet.
        var pendingDial: CallID?
        /// An incoming call announced by RING/+CLIP/+CCWA before +CLCC gave its index.
        var pendingIncoming: (id: CallID, waiting: Bool, serial: Int, announced: Bool)?
        /// ATD was answered OK: a +CLCC list asked after that and without our call means the call is over.
        var pendingDialAcknowledged = false
        /// The SIM refused our PIN once: never send it again in this process (three wrong PINs lock the SIM).
        var pinRefused = false
        /// The probe in flight was ended by RDY (the modem booted meanwhile): probe again without counting an attempt.
        var probeEndedByRDY = false
        var portOpen = false
        /// Counts incoming-call announcements, so a +CLCC answer can tell whether it was asked after one.
        var announcements = 0
        var ringTimer: (any Cancellable)?
        var nextIncoming = 1
        var pollTimer: (any Cancellable)?
        var signalTimer: (any Cancellable)?
        var alarmMode = false
        /// `AT+CCWA=1,0` succeeded since the modem last started.
        var callWaitingOff = false
        var nextExisting = 1
        var identity = ModemIdentityInfo()
        var recoveries = 0
        /// Every recovery since the daemon started (recoveries resets once the modem is back).
        var restarts = 0
        var smsReference: UInt8 = 0
        var batteryTimer: (any Cancellable)?
        var simLocked = false
        /// A position source reads the modem's GNSS over AT: switch it on after every start (see `keepGNSSOn`).
        var gnssWanted = false
    }

    public let engine: ATEngine
    let profile: ModemProfile
    let clock: any Clock
    let logger: Logger
    let powerLine: (any OutputLine)?
    let settings: ATModemSettings
    let state = Mutex(State())
    let networkSink = Mutex<(@Sendable (NetworkStatus) -> Void)?>(nil)
    let powerSink = Mutex<(@Sendable (PowerStatus) -> Void)?>(nil)
    let callSink = Mutex<(@Sendable (CallEvent) -> Void)?>(nil)
    let dataSink = Mutex<(@Sendable (ModemDataStatus) -> Void)?>(nil)
    let timeSink = Mutex<(@Sendable (WallTime, Instant) -> Void)?>(nil)
    let smsSink = Mutex<(@Sendable (String, String) -> Void)?>(nil)

    /// The network's time (NITZ, read with AT+CCLK after every modem start), with the instant it was read.
    public func onNetworkTime(_ sink: @escaping @Sendable (WallTime, Instant) -> Void) {
        timeSink.withLock { $0 = sink }
    }

    /// `write` sends bytes to the modem; feed what it answers to `receive`.
    public init(profile: ModemProfile, clock: any Clock, logger: Logger, settings: ATModemSettings = ATModemSettings(),
                powerLine: (any OutputLine)? = nil, write: @escaping @Sendable ([UInt8]) -> Void) {
        self.profile = profile
        self.clock = clock
        self.logger = logger
        self.powerLine = powerLine
        self.settings = settings
        let urcs = URCForwarder()
        engine = ATEngine(clock: clock, logger: logger, write: write, unsolicited: { urcs.forward($0) })
        urcs.target.withLock { $0.driver = self }
    }

    // MARK: HAL

    public func start(_ status: @escaping @Sendable (NetworkStatus) -> Void) throws(HALError) {
        networkSink.withLock { $0 = status }
    }

    public func start(_ events: @escaping @Sendable (CallEvent) -> Void) throws(HALError) {
        callSink.withLock { $0 = events }
    }

    /// Bytes from the modem.
    public func receive(_ bytes: [UInt8]) { engine.receive(bytes) }

    public var phase: Phase { state.withLock { $0.phase } }
    public var identity: ModemIdentityInfo { state.withLock { $0.identity } }
    /// How often the driver has had to recover the modem (re-initialise or power-cycle) since it started.
    public var restartCount: Int { state.withLock { $0.restarts } }

    func emitNetwork() {
        let status = state.withLock { Self.networkStatus($0) }
        networkSink.withLock { $0 }?(status)
    }

    func emitCall(_ event: CallEvent) {
        callSink.withLock { $0 }?(event)
    }

    /// CS registration carries voice; EPS registration alone (LTE without CS fallback) is reported too,
    /// because VoLTE modems place calls with it.
    static func networkStatus(_ s: State) -> NetworkStatus {
        guard s.phase == .ready else {
            return NetworkStatus(registration: .unknown, emergencyCallsPossible: false, signal: nil, cell: nil,
                                 simPresent: s.simPresent)
        }
        let reports = [s.cs, s.eps].compactMap { $0 }
        let registered = reports.first { $0.registration.isRegistered }
        let registration = registered?.registration ?? reports.first?.registration ?? .unknown
        let best = registered ?? reports.first
        var cell: CellInfo?
        if let best, let area = best.areaCode, let id = best.cellID {
            cell = CellInfo(mcc: s.mcc ?? 0, mnc: s.mnc ?? 0, areaCode: area, cellID: id,
                            accessTechnology: Self.technologyName(best.accessTechnology))
        }
        // 27.007 has no "limited service" state; a modem that hears a cell (signal known) but is not
        // registered can still place emergency calls on any network that serves it.
        let hearsCell = (s.signal ?? 0) > 0
        let emergency = registration.isRegistered || hearsCell
        return NetworkStatus(registration: registration, emergencyCallsPossible: emergency, signal: s.signal,
                             cell: cell, simPresent: s.simPresent)
    }

    static func technologyName(_ act: Int?) -> String {
        switch act {
        case 0?, 1?, 3?: "GSM"
        case 2?, 4?, 5?, 6?: "UMTS"
        case 7?: "LTE"
        case 9?: "NB-IoT"
        case 8?: "LTE-M"
        case 10?, 11?, 12?, 13?: "NR"
        default: "unknown"
        }
    }
}

public struct ModemIdentityInfo: Sendable, Hashable {
    public var imei: String?
    public var imsi: String?
    public var iccid: String?
}

public struct ATModemSettings: Sendable, Hashable {
    /// Commands without any answer in a row before the modem counts as hung.
    public var hungAfterTimeouts = 3
    public var signalPollInterval: Duration = .seconds(30)
    /// +CLCC polling while a call is being set up, and while one is up (vendor profiles without call URCs).
    public var setupPollInterval: Duration = .milliseconds(100)
    public var activePollInterval: Duration = .milliseconds(500)
    /// The backup +CLCC poll for profiles with call-state URCs.
    public var urcBackupPollInterval: Duration = .seconds(1)
    public var dialTimeout: Duration = .seconds(30)
    /// Short: an AT+CMGS in flight holds back a dial until it ends.
    public var smsTimeout: Duration = .seconds(20)
    public var readyTimeout: Duration = .seconds(20)
    public var powerPulse: Duration = .seconds(1)
    /// The SIM PIN, when the SIM is locked; read by the assembly from a file only its owner can read.
    /// Never logged.
    public var simPIN: String?
    public var batteryPollInterval: Duration = .seconds(60)
    /// The board's positions come from the modem's own GNSS: switch it on after every modem start
    /// (the setting does not survive a restart).
    public var enableGNSS = false
    /// The board's data connection; nil when the report link does not ride on the modem.
    public var data: DataCallSettings?
    /// The board carries voice over the modem's USB audio: the profile's command switches it on after every start.
    public var usbAudio = false
    public init() {}
}

/// Breaks the init-time cycle between the engine (which needs a URC callback) and the driver (which owns the engine).
final class URCForwarder: Sendable {
    struct Weak { weak var driver: ATModemDriver? }
    let target = Mutex(Weak())
    func forward(_ urc: ATUnsolicited) { target.withLock { $0.driver }?.unsolicited(urc) }
}
