import AlarmCore
import Synchronization

/// A snapshot of the running device for `alarmctl status`. It is shown only to the socket's owner;
/// it holds the last fix because the person debugging a device needs it, and it is never logged.
public struct RuntimeStatus: Sendable, Codable, Hashable {
    public struct LastFix: Sendable, Codable, Hashable {
        public var latitude: Double
        public var longitude: Double
        public var accuracy: Double
        public var source: String
        public var ageMilliseconds: Int64
        public var satellitesUsed: Int?
        /// Metres above sea level: a 3D fix.
        public var altitude: Double?
    }

    public struct Call: Sendable, Codable, Hashable {
        public var id: String
        public var number: String?
        public var connected: Bool
    }

    public var device: String
    public var board: String
    public var uptimeMilliseconds: Int64
    /// idle, alarm, after-alarm
    public var mode: String
    public var alarmNumber: Int?
    public var alarmAgeMilliseconds: Int64?
    public var delivered: Bool?
    public var registration: String
    public var roaming: Bool
    public var emergencyCallsOnly: Bool
    public var signal: Int?
    public var cell: CellInfo?
    public var lastFix: LastFix?
    public var batteryPercent: Int?
    public var charging: Bool?
    public var call: Call?
    public var reportLink: String
    /// The data supervisor's verdict and its reason ("up (wwan0 10.64.1.2, LTE)").
    public var dataPath: String
    public var pendingReports: Int
    public var alarmsRaised: Int
    /// `counters.reportsSent` counts reports queued to the link; this counts frames it wrote to its socket.
    public var counters: Counters
    public var reportsTransmitted: Int = 0
    public var audioFrames: Int
    public var audioFaults: Int
    /// The last microphone self-test ("plausible (-38 dBFS)", "dead (all zeros)", "not tested yet").
    public var microphone: String?
    /// The device clock: the UTC and its source, the plausible window, and one line per source saying why it was
    /// chosen or set aside (UTCClock.statusLines). Nil when the runtime has no UTC clock attached.
    public var time: [String]? = nil
    /// This firmware's version and the provisioning bundle it runs on (the periodic test carries both).
    public var firmware: String = Firmware.version
    public var provisioning: String? = nil
    /// The button's device: "ok", "lost for 7.0 s (trouble reported)", or "not supervised" for a backend that
    /// cannot say. Nil from a daemon that predates button supervision.
    public var button: String? = nil
}

/// The UTC clock's status lines, per runtime (the runtime itself does not own the clock: DeviceAssembly builds it).
private let timeStatusProviders = Mutex<[ObjectIdentifier: @Sendable () -> [String]]>([:])

extension DeviceRuntime {
    /// Makes `status` carry the UTC clock's lines.
    public func attachTimeStatus(_ provider: @escaping @Sendable () -> [String]) {
        timeStatusProviders.withLock { $0[ObjectIdentifier(self)] = provider }
    }

    var timeStatusLines: [String]? {
        timeStatusProviders.withLock { $0[ObjectIdentifier(self)] }?()
    }
}

extension DeviceRuntime {
    public var status: RuntimeStatus {
        let now = clock.now()
        var status = inner.withLock { inner in
            let state = inner.state
            var mode = "idle"
            var alarmNumber: Int?
            var alarmAge: Int64?
            var delivered: Bool?
            switch state.mode {
            case .idle: break
            case .alarm(let alarm):
                mode = "alarm"
                alarmNumber = alarm.number
                alarmAge = (now - alarm.startedAt).milliseconds
                delivered = alarm.delivered
            case .afterAlarm(let until):
                mode = now < until ? "after-alarm" : "idle"
            }
            let network = state.network.status
            return RuntimeStatus(
                device: identity.deviceID, board: identity.boardName,
                uptimeMilliseconds: (now - inner.bootedAt).milliseconds,
                mode: mode, alarmNumber: alarmNumber, alarmAgeMilliseconds: alarmAge, delivered: delivered,
                registration: network.registration.rawValue, roaming: network.registration == .roaming,
                emergencyCallsOnly: !network.registration.isRegistered && network.emergencyCallsPossible,
                signal: network.signal, cell: network.cell,
                lastFix: state.lastFix.map {
                    RuntimeStatus.LastFix(latitude: $0.fix.latitude, longitude: $0.fix.longitude,
                                          accuracy: $0.fix.horizontalAccuracy.isFinite ? $0.fix.horizontalAccuracy : -1,
                                          source: $0.fix.source.rawValue,
                                          ageMilliseconds: (now - $0.receivedAt).milliseconds,
                                          satellitesUsed: $0.fix.satellitesUsed, altitude: $0.fix.altitude)
                },
                batteryPercent: state.power?.batteryPercent, charging: state.power?.charging,
                call: state.call.map { RuntimeStatus.Call(id: "\($0.id)", number: $0.number, connected: $0.connected) },
                reportLink: inner.linkState, dataPath: inner.dataPath, pendingReports: state.outbox.count, alarmsRaised: state.alarmsRaised,
                counters: state.counters, audioFrames: inner.audioFrames, audioFaults: inner.audioFaults,
                microphone: microphoneSelfTest?.verdict, time: nil)
        }
        status.reportsTransmitted = inner.withLock { $0.reportsTransmitted }
        status.time = timeStatusLines
        status.provisioning = identity.provisioning
        status.button = buttonStatus(now: now)
        return status
    }

    func buttonStatus(now: Instant) -> String {
        let (state, device) = inner.withLock { ($0.state, $0.buttonDevice) }
        let reported = state.buttonTroubleReported ? ", trouble reported to the centre" : ""
        guard let since = state.buttonLostSince else {
            return device + (state.buttonTroubleReported ? reported : "")
        }
        return "lost for \(Self.seconds(now - since))\(reported) (\(device))"
    }

    /// The core's state, for tests and diagnostics.
    public var coreState: AlarmState { inner.withLock { $0.state } }
}
