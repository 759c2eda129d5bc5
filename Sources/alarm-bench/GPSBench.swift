import AlarmCodecs
import AlarmCore
import AlarmRuntime
import BenchHarness
import DC09
import Dispatch
import GPSD
import Glibc
import HAL
import LinuxBackends
import Logging
import PosixIO
import SimBackends
import SimCentre
import SimTools
import Synchronization

/// Which fix each position update carried, and when its frame went into the socket (the link's `frameWritten`).
final class FixFrameStamps: Sendable {
    private let fixBySequence = Mutex<[Int: Int64]>([:])
    let written = Mutex<[Int64: Int64]>([:])  // fix time (ms) → monotonic ns when the first frame carrying it was written
    let signal = DispatchSemaphore(value: 0)

    func sending(_ report: Report) {
        guard report.kind == .positionUpdate, let fix = report.position else { return }
        fixBySequence.withLock { $0[report.sequence] = fix.fixTime.millisecondsSince1970 }
    }

    func frameWritten(_ sequence: Int) {
        let now = SystemTime.monotonicNanoseconds()
        guard let fixTime = fixBySequence.withLock({ $0[sequence] }) else { return }
        written.withLock { if $0[fixTime] == nil { $0[fixTime] = now } }
        signal.signal()
    }
}

/// The real DC-09 link to a loopback receiver, noting each update's fix before it is sent (the frame may be written
/// before `send` returns), so the frame's moment can be matched to gpsd's report with that fix.
final class FrameStampingLink: ReportLink {
    let inner: DC09ReportLink
    let stamps = FixFrameStamps()

    init(settings: DC09LinkSettings, clock: any Clock, logger: Logger) {
        var settings = settings
        let stamps = self.stamps
        settings.frameWritten = { stamps.frameWritten($0) }
        inner = DC09ReportLink(settings: settings, clock: clock, logger: logger)
    }

    func start(_ events: @escaping @Sendable (ReportLinkEvent) -> Void) throws(HALError) { try inner.start(events) }

    func send(_ report: Report) {
        stamps.sending(report)
        inner.send(report)
    }
}

extension AlarmBench {
    /// gpsd (replaying a fast drive through gpsfake) → libgps → core → report link, during an alarm.
    func gpsCase(_ harness: inout BenchmarkHarness, iterations: Int) throws {
        let name = "gps.tpv-to-position-frame"
        if let filter, !name.contains(filter) { return }
        guard GPSFake.isAvailable else {
            print("\(name): skipped, gpsd is not installed (make bench installs it)")
            return
        }
        // A drive north at 25 m/s, 25 fix epochs a second (gpsfake pauses 10 ms after each of the 4 sentences): every
        // fix is 25 m beyond the last, far outside its accuracy, so every one makes a position update.
        let epochs = iterations + 150  // gpsd drops a few of the first epochs at this pace
        let logPath = "/tmp/alarm-bench-drive-\(getpid()).nmea"
        try StorageDirectory(path: "/tmp").replaceAtomically("alarm-bench-drive-\(getpid()).nmea", with: Array(
            StationaryNMEA.log(seconds: epochs, from: SystemTime.wallMilliseconds(), metresPerSecond: 25).utf8))
        defer { unlink(logPath) }
        let replay = try GPSFake.start(log: logPath, cycleSeconds: 0.01)
        defer { replay.stop() }
        let port = replay.port

        let clock = SystemClock()
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let source = GPSDPositionSource(host: "127.0.0.1", port: port, clock: clock, logger: logger)
        defer { source.stop() }
        let arrivals = StampTable()
        source.observeReports { arrival, fix in arrivals.stamp(fix.fixTime.millisecondsSince1970, arrival) }
        let key = try DC09Key(text: "0123456789ABCDEF", encoding: .asciiHex)
        let account = DC09Account(receiver: "1", prefix: "1", account: "B1")
        let receiver = try DC09Receiver(accounts: ["B1": key])
        receiver.start()
        defer { receiver.stop() }
        var linkSettings = DC09LinkSettings(endpoints: [DC09Endpoint(.tcp, host: "127.0.0.1", port: receiver.tcpPort)],
                                            composer: DC09Composer(account: account, format: .siaDCS, deviceID: "BENCH"), key: key)
        linkSettings.supervisionInterval = nil
        let link = FrameStampingLink(settings: linkSettings, clock: clock, logger: logger)
        defer { link.inner.stop() }
        let button = SimButton(clock: clock)
        let modem = SimModem(clock: clock)
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3292000101"]
        settings.triggerHold = .milliseconds(300)
        let runtime = DeviceRuntime(
            machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BENCH", boardName: "bench"), clock: clock,
            backends: Backends(button: button, position: source, network: modem, calls: modem, sms: modem,
                               reportLink: link, store: InMemoryRecordStore()),
            silence: .noSpeaker, logger: logger)
        try runtime.start()
        button.press(holding: .milliseconds(400))

        // Collect until enough fixes have gone out (the drive replays in about iterations ÷ 25 seconds).
        let deadline = DispatchTime.now() + .seconds(epochs / 25 + 30)
        var samples: [Int64] = []
        while samples.count < iterations, link.stamps.signal.wait(timeout: deadline) == .success {
            let sent = link.stamps.written.withLock { $0 }
            let arrived = arrivals.all
            samples = sent.compactMap { time, at in arrived[time].map { at - $0 } }.filter { $0 >= 0 }
        }
        guard !samples.isEmpty else {
            print("\(name): no samples (see \(replay.outputPath))")
            return
        }
        var queue = samples.sorted()
        let update = Report(sequence: 2, kind: .positionUpdate, alarmNumber: 1,
                            position: Fix(latitude: 51.05, longitude: 3.72, horizontalAccuracy: 6, fixTime: WallTime(millisecondsSince1970: 0),
                                          speed: 25, course: 0),
                            positionAge: .zero, previousPositions: [], cell: nil)
        let bytes = try DC09FrameSize.frame(update, account: account, key: key)
        harness.run(name, definition: "gpsd's report readable on the client socket → the DC-09 frame of the position update carrying that fix written to the TCP socket (during an alarm; AES-128, loopback receiver)",
                    iterations: queue.count, goal: .atMost(2000, "p99 ≤ 2 ms"),
                    limit: .uart(bytes: bytes, "the position update's DC-09 frame over PPP on the modem's UART"),
                    note: "the first fix of an alarm without one and every later fix that moved take the same path "
                        + "(AlarmMachine fixReceived → queueReport → composer, cipher, one write); the link is stop-and-wait, so a "
                        + "fix arriving while the previous update awaits its ACK waits for it (a newer one supersedes it: no sample); "
                        + "the first few fixes arrived before the alarm was raised") { queue.removeLast() }
    }
}

/// First arrival time per fix time (a class: the observer closure outlives the scope that made it).
final class StampTable: Sendable {
    private let stamps = Mutex<[Int64: Int64]>([:])
    func stamp(_ key: Int64, _ at: Int64) { stamps.withLock { if $0[key] == nil { $0[key] = at } } }
    var all: [Int64: Int64] { stamps.withLock { $0 } }
}
