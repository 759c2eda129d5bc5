import AlarmCore
import AlarmRuntime
import HAL
import Logging
import SimBackends
import Synchronization

/// The daemon's runtime on the simulated world with a manual clock: every timer, call progress and
/// acknowledgement happens when the test advances time, on the test's thread.
final class Scenario: Sendable {
    let clock = ManualClock()
    let modem: SimModem
    let button: SimButton
    let position: SimPositionSource
    let link: SimReportLink
    let audio: SimAudio
    let vibrator = SimVibrator()
    let power = SimPower()
    let store: any RecordStore
    let runtime: DeviceRuntime
    let haptics = Haptics()
    private let timeline = RecordLog()

    static let centre = ["+3292000101", "+3292000102"]
    static let ghent: (latitude: Double, longitude: Double) = (51.054_3, 3.717_4)

    init(settings configure: (inout AlarmSettings) -> Void = { _ in },
         modem modemConfigure: (inout SimModemSettings) -> Void = { _ in },
         route routeConfigure: (inout SimRoute) -> Void = { _ in },
         store: any RecordStore = InMemoryRecordStore(),
         silence: SilenceMethod = .noSpeaker, amplifier: SimOutputLine? = nil) {
        var settings = AlarmSettings()
        settings.centreNumbers = Self.centre
        configure(&settings)
        var modemSettings = SimModemSettings()
        modemConfigure(&modemSettings)
        var route = SimRoute(waypoints: [Self.ghent, (51.0560, 3.7225)])
        route.alarmInterval = .seconds(1)
        routeConfigure(&route)

        modem = SimModem(clock: clock, settings: modemSettings)
        button = SimButton(clock: clock)
        position = SimPositionSource(clock: clock, route: route)
        let modem = self.modem
        link = SimReportLink(clock: clock, dataAvailable: { modem.network.registration.isRegistered })
        audio = SimAudio(clock: clock, framePeriod: .milliseconds(500))
        self.store = store
        let backends = Backends(button: button, position: position, network: modem, calls: modem, sms: modem,
                                reportLink: link, audio: audio, vibrator: vibrator, power: power,
                                amplifierEnable: amplifier, store: store)
        var logger = Logger(label: "scenario", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        runtime = DeviceRuntime(machine: AlarmMachine(settings: settings),
                                identity: .init(deviceID: "BE-TEST-1", boardName: "test"),
                                clock: clock, backends: backends, silence: silence, logger: logger)
        _ = runtime.addObserver { [timeline] record in timeline.append(record) }
    }

    func start() throws {
        try runtime.start()
    }

    func advance(_ duration: Duration) { clock.advance(by: duration) }

    /// Presses for `hold` and lets time run through the release.
    func pressAndHold(_ hold: Duration = .milliseconds(2500)) {
        button.press(holding: hold)
        advance(hold)
    }

    var records: [TimelineRecord] { timeline.all }
    func texts(_ category: TimelineRecord.Category) -> [String] { records.filter { $0.category == category }.map(\.text) }
    var now: Instant { clock.now() }
}

final class RecordLog: Sendable {
    private let records = Mutex<[TimelineRecord]>([])
    func append(_ record: TimelineRecord) { records.withLock { $0.append(record) } }
    var all: [TimelineRecord] { records.withLock { $0 } }
}
