import AlarmCore
import CLibGPS
import Dispatch
import Glibc
import HAL
import Logging
import Synchronization

/// Positions from gpsd through libgps. A dedicated worker waits on gpsd's socket (`gps_waiting` with a 1 s
/// bound, no polling loop), turns TPV reports into fixes, and reconnects with backoff when gpsd is not
/// running, restarts or loses its receiver. Unknown values stay unknown: NaN from libgps becomes nil (or an
/// infinite accuracy), never zero.
public final class GPSDPositionSource: PositionSourceDevice {
    private struct State {
        var rate = PositionRate.idle
        var stopped = false
        var started = false
        var lastDeliveredAt: Instant?
        var reportedLost = false
        var fixes = 0
        var reconnects = 0
        /// Reports read from gpsd (benchmarks and tests: what idle pausing saves).
        var reports = 0
        /// Outside an alarm the stream is paused between fixes; each pause is counted.
        var pauses = 0
        /// From the latest SKY report.
        var satellitesUsed: Int?
        /// gpsd may repeat a TPV within one cycle: the same fix twice is not news.
        var lastDelivered: Fix?
    }

    public let host: String
    public let port: UInt16
    private let clock: any Clock
    private let logger: Logger
    private let idleInterval: Duration
    private let silenceLimit: Duration
    private let sink = Mutex<(@Sendable (PositionUpdate) -> Void)?>(nil)
    private let reportObserver = Mutex<(@Sendable (Int64, Fix) -> Void)?>(nil)
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let worker = DispatchQueue(label: "alarmd.gpsd")

    /// `idleInterval`: outside an alarm about one fix per interval reaches the core (never two within the interval
    /// less `idleLead`; the receiver stays warm, the device stays quiet); during an alarm every fix does. `silenceLimit`: no report from gpsd for this
    /// long means the receiver is gone.
    public init(host: String, port: UInt16, clock: any Clock, logger: Logger,
                idleInterval: Duration = .seconds(10), silenceLimit: Duration = .seconds(3)) {
        self.host = host
        self.port = port
        self.clock = clock
        self.logger = logger
        self.idleInterval = idleInterval
        self.silenceLimit = silenceLimit
    }

    public func start(_ updates: @escaping @Sendable (PositionUpdate) -> Void) throws(HALError) {
        sink.withLock { $0 = updates }
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        if first { worker.async { [self] in run() } }
    }

    public func setRate(_ rate: PositionRate) {
        state.withLock { state in
            state.rate = rate
            if rate == .alarm { state.lastDeliveredAt = nil }  // the next fix goes out at once
        }
        if rate == .alarm { wake.signal() }  // a paused stream resumes now
    }

    /// Ends the worker within about a second (its wait bound).
    public func stop() {
        state.withLock { $0.stopped = true }
        sink.withLock { $0 = nil }
        reportObserver.withLock { $0 = nil }
        wake.signal()
    }

    public var counters: (fixes: Int, reconnects: Int) { state.withLock { ($0.fixes, $0.reconnects) } }
    /// Reports read from gpsd and idle pauses taken, since start.
    public var traffic: (reports: Int, pauses: Int) { state.withLock { ($0.reports, $0.pauses) } }

    /// How long a paused stream is re-opened before the next idle fix is due (gpsd's WATCH answer plus the next
    /// epoch of a warm receiver), and how long an idle watch lasts when no fix comes (indoors).
    static let idleLead = Duration.milliseconds(1500)
    static let idleWatchWindow = Duration.seconds(3)

    /// For benchmarks: called with the monotonic nanoseconds at which gpsd's report became readable on the
    /// socket, just before the fix it carried goes to the core.
    public func observeReports(_ observer: @escaping @Sendable (Int64, Fix) -> Void) {
        reportObserver.withLock { $0 = observer }
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func run() {
        // gps_data_t is about 24 KB: on the heap, zeroed, reused across reconnects.
        let data = UnsafeMutablePointer<gps_data_t>.allocate(capacity: 1)
        defer { data.deallocate() }
        var backoff = Duration.seconds(1)
        var loggedDown = false
        while !stopped {
            memset(data, 0, MemoryLayout<gps_data_t>.size)
            guard gps_open(host, String(port), data) == 0 else {
                if !loggedDown {
                    logger.warning("gpsd not reachable; retrying with backoff", metadata: ["gpsd": "\(host):\(port)"])
                    loggedDown = true
                }
                reportLost(.unavailable)
                _ = wake.wait(timeout: .now() + .milliseconds(Int(backoff.milliseconds)))
                backoff = min(backoff * 2, .seconds(30))
                continue
            }
            state.withLock { $0.reconnects += 1 }
            if loggedDown { logger.notice("gpsd reachable again", metadata: ["gpsd": "\(host):\(port)"]) }
            loggedDown = false
            backoff = .seconds(1)
            _ = gps_stream(data, UInt32(WATCH_ENABLE | WATCH_JSON), nil)
            var lastReport = clock.now()
            var watchingSince = clock.now()
            while !stopped {
                // Outside an alarm only one fix per idle interval reaches the core, yet gpsd streams two reports
                // per epoch: between fixes the stream is paused (gpsd keeps a receiver opened with -n warm), so the
                // idle daemon sleeps instead of reading reports it would throw away.
                if let pause = idlePause(watchingSince: watchingSince) {
                    _ = gps_stream(data, UInt32(WATCH_DISABLE), nil)
                    // What was already on its way is stale by the time the pause ends.
                    while gps_waiting(data, 100_000) {
                        data.pointee.set = 0
                        if gps_read(data, nil, 0) < 0 { break }
                    }
                    state.withLock { $0.pauses += 1 }
                    _ = wake.wait(timeout: .now() + .milliseconds(Int(max(pause.milliseconds, 1))))
                    if stopped { break }
                    guard gps_stream(data, UInt32(WATCH_ENABLE | WATCH_JSON), nil) == 0 else { break }
                    watchingSince = clock.now()
                    lastReport = clock.now()
                    continue
                }
                if gps_waiting(data, 1_000_000) {
                    var now = timespec()
                    clock_gettime(CLOCK_MONOTONIC, &now)
                    let arrival = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
                    // libgps keeps `set` flags from earlier messages: clear them, so that only what this
                    // message carried counts (a SKY after a TPV must not look like a new fix).
                    data.pointee.set = 0
                    let status = gps_read(data, nil, 0)
                    guard status >= 0 else { break }  // gpsd went away (restart, crash): reconnect
                    guard status > 0 else { continue }  // only part of a line so far
                    lastReport = clock.now()
                    state.withLock { $0.reports += 1 }
                    handle(data.pointee, arrival: arrival)
                } else if clock.now() - lastReport > silenceLimit {
                    reportLost(.timeout)
                    // A hung gpsd or a half-open connection: start over rather than wait forever.
                    if clock.now() - lastReport > silenceLimit * 3 { break }
                }
            }
            gps_close(data)
            if !stopped {
                logger.warning("gpsd connection lost; reconnecting", metadata: ["gpsd": "\(host):\(port)"])
                reportLost(.unavailable)
            }
        }
    }

    /// Outside an alarm: how long to pause the stream now — after the interval's fix went to the core, until shortly
    /// before the next one is due; or, when no fix came within the watch window, for the rest of the interval.
    private func idlePause(watchingSince: Instant) -> Duration? {
        let now = clock.now()
        return state.withLock { state -> Duration? in
            guard state.rate == .idle else { return nil }
            if let delivered = state.lastDeliveredAt, delivered >= watchingSince {
                let resume = delivered + idleInterval - Self.idleLead
                return resume > now ? resume - now : nil
            }
            guard now - watchingSince >= Self.idleWatchWindow else { return nil }
            return idleInterval > Self.idleWatchWindow + Self.idleLead ? idleInterval - Self.idleWatchWindow : nil
        }
    }

    private func handle(_ data: gps_data_t, arrival: Int64) {
        let fix = data.fix
        if data.set & UInt64(SATELLITE_SET) != 0 {
            let used = Int(data.satellites_used)
            state.withLock { $0.satellitesUsed = used >= 0 ? used : nil }
        }
        // Only a report that carried a position (a TPV) is a fix; SKY, GST and friends leave the last fix in
        // the struct and must not be delivered again as new fixes.
        guard data.set & UInt64(LATLON_SET) != 0 else {
            if data.set & UInt64(MODE_SET) != 0, fix.mode < MODE_2D { reportLost(nil) }
            return
        }
        guard fix.mode >= MODE_2D, fix.latitude.isFinite, fix.longitude.isFinite else {
            reportLost(nil)
            return
        }
        let now = clock.now()
        var mapped = Self.fix(from: fix, fallbackTime: clock.wallTime())
        let deliver = state.withLock { state -> Bool in
            state.reportedLost = false
            mapped.satellitesUsed = state.satellitesUsed
            if mapped == state.lastDelivered { return false }
            // The stream re-opens shortly before an idle fix is due; the first fix after that counts as the one due.
            if state.rate == .idle, let last = state.lastDeliveredAt, now - last < idleInterval - Self.idleLead { return false }
            state.lastDeliveredAt = now
            state.lastDelivered = mapped
            state.fixes += 1
            return true
        }
        guard deliver else { return }
        reportObserver.withLock { $0 }?(arrival, mapped)
        sink.withLock { $0 }?(.fix(mapped))
    }

    static func fix(from fix: gps_fix_t, fallbackTime: WallTime) -> Fix {
        GPSFixMapping.fix(from: fix, fallbackTime: fallbackTime)
    }

    private func reportLost(_ kind: FaultKind?) {
        let first = state.withLock { state -> Bool in
            defer { state.reportedLost = true }
            return !state.reportedLost
        }
        if first { sink.withLock { $0 }?(.lost(kind)) }
    }
}
