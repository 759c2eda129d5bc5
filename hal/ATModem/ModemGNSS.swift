import AlarmCodecs
import AlarmCore
import HAL
import Logging
import Synchronization

/// Positions from the modem's own GNSS, asked over the AT channel (Quectel `AT+QGPSLOC=2`, SIMCom
/// `AT+CGPSINFO`): for boards where only the modem's UART is wired, so there is no NMEA port for gpsd.
///
/// One query per interval on the injected clock — 10 s outside an alarm, 1 s during one — at background
/// priority: a dial or hang-up waiting in the engine's queue always goes first, and at most the one query
/// already on the line (bounded by its short timeout) stands before it. Never more than one query is
/// queued or in flight, so a slow or hung modem cannot pile them up. The receiver is switched on after every
/// modem start (the driver does it once this source exists) and again whenever Quectel says it is off.
public final class ModemGNSSPositionSource: PositionSourceDevice {
    private struct State {
        var rate = PositionRate.idle
        var started = false
        var stopped = false
        var timer: (any Cancellable)?
        /// When the query on the line (or queued) was submitted; nil when none is.
        var querySubmittedAt: Instant?
        var reportedLost = false
        var lastDelivered: Fix?
        var queries = 0
        var fixes = 0
        var rejected = 0
    }

    public let query: GNSSQuery
    private let driver: ATModemDriver
    private let clock: any Clock
    private let logger: Logger
    private let idleInterval: Duration
    private let alarmInterval: Duration
    private let queryTimeout: Duration
    private let sink = Mutex<(@Sendable (PositionUpdate) -> Void)?>(nil)
    private let state = Mutex(State())

    /// `queryTimeout` bounds how long a dial can wait behind a query the modem does not answer; modules answer
    /// these in well under a second.
    public init(driver: ATModemDriver, clock: any Clock, logger: Logger, idleInterval: Duration = .seconds(10),
                alarmInterval: Duration = .seconds(1), queryTimeout: Duration = .seconds(2)) throws(HALError) {
        guard let query = driver.gnssQuery else {
            throw HALError(.unavailable, "modem profile \"\(driver.profileName)\" has no GNSS position query over AT")
        }
        self.query = query
        self.driver = driver
        self.clock = clock
        self.logger = logger
        self.idleInterval = idleInterval
        self.alarmInterval = alarmInterval
        self.queryTimeout = queryTimeout
    }

    public func start(_ updates: @escaping @Sendable (PositionUpdate) -> Void) throws(HALError) {
        sink.withLock { $0 = updates }
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
        guard first else { return }
        driver.keepGNSSOn()
        tick()
    }

    public func setRate(_ rate: PositionRate) {
        let changed = state.withLock { state -> Bool in
            defer { state.rate = rate }
            return state.rate != rate && state.started
        }
        guard changed else { return }
        if rate == .alarm {
            tick()  // the first alarm report should not wait up to an idle interval for a position
        } else {
            schedule(after: idleInterval)
        }
    }

    public func stop() {
        state.withLock { state in
            state.stopped = true
            state.timer?.cancel()
            state.timer = nil
        }
        sink.withLock { $0 = nil }
    }

    public var counters: (queries: Int, fixes: Int, rejected: Int) {
        state.withLock { ($0.queries, $0.fixes, $0.rejected) }
    }

    private func schedule(after interval: Duration) {
        let timer = clock.schedule(after: interval) { [self] in tick() }
        let stale = state.withLock { state -> Bool in
            guard !state.stopped else { return true }
            state.timer?.cancel()
            state.timer = timer
            return false
        }
        if stale { timer.cancel() }
    }

    private func tick() {
        let now = clock.now()
        let (stopped, interval, busy) = state.withLock { state -> (Bool, Duration, Bool) in
            let interval = state.rate == .alarm ? alarmInterval : idleInterval
            // The engine always completes a command (answer, timeout or abort); the bound is only a guard, so
            // that a lost completion could never silence the source for good.
            if let at = state.querySubmittedAt, now - at < max(queryTimeout * 4, .seconds(60)) { return (state.stopped, interval, true) }
            return (state.stopped, interval, false)
        }
        guard !stopped else { return }
        schedule(after: interval)
        guard !busy else { return }
        guard driver.phase == .ready else {
            // Starting, recovering or without its port: no receiver to ask until the modem is back.
            reportLost(.unavailable)
            return
        }
        state.withLock { state in
            state.querySubmittedAt = now
            state.queries += 1
        }
        let command = ATCommand(query.command, expecting: [query.responsePrefix], timeout: queryTimeout,
                                priority: .background)
        driver.engine.submit(command) { [self] outcome in
            state.withLock { $0.querySubmittedAt = nil }
            handle(outcome)
        }
    }

    private func handle(_ outcome: ATOutcome) {
        switch outcome {
        case .completed(let result, let lines):
            let reading: GNSSReading
            do {
                reading = try query.interpret(result, lines: lines)
            } catch {
                // One garbled answer (line noise) is not a lost fix: count it, log it, ask again next time.
                state.withLock { $0.rejected += 1 }
                logger.warning("GNSS answer from the modem rejected", metadata: ["reason": "\(error)"])
                return
            }
            switch reading {
            case .fix(let location): deliver(location.fix)
            case .noFix: reportLost(nil)
            case .engineOff:
                logger.notice("the modem's GNSS is off; switching it on")
                reportLost(nil)
                driver.switchGNSSOn()
            case .refused(let result):
                logger.warning("modem refused the GNSS query", metadata: ["command": "\(query.command)", "result": "\(result)"])
                reportLost(.rejected)
            }
        case .timedOut:
            reportLost(.timeout)
            driver.checkHung()
        case .aborted:
            break  // the modem went down or restarts; the next tick finds out which
        }
    }

    private func deliver(_ fix: Fix) {
        let fresh = state.withLock { state -> Bool in
            let wasLost = state.reportedLost
            state.reportedLost = false
            // The modem repeats its last solution when asked faster than it computes new ones.
            guard wasLost || fix != state.lastDelivered else { return false }
            state.lastDelivered = fix
            state.fixes += 1
            return true
        }
        if fresh { sink.withLock { $0 }?(.fix(fix)) }
    }

    private func reportLost(_ kind: FaultKind?) {
        let first = state.withLock { state -> Bool in
            defer { state.reportedLost = true }
            return !state.reportedLost
        }
        if first { sink.withLock { $0 }?(.lost(kind)) }
    }
}

extension ATModemDriver {
    /// The location query of this modem's profile, nil when it has none.
    public var gnssQuery: GNSSQuery? { profile.gnssQuery }
    public var profileName: String { profile.name }

    /// From now on the GNSS is switched on after every modem start; and now, if the modem is already up.
    func keepGNSSOn() {
        let switchNow = state.withLock { state -> Bool in
            defer { state.gnssWanted = true }
            return state.phase == .ready && !state.gnssWanted && !settings.enableGNSS
        }
        if switchNow { switchGNSSOn() }
    }

    /// The profile's GNSS commands, in order, behind call control. Queued together (FIFO within a priority),
    /// so a location query submitted next cannot slip in between them and find the engine still off.
    func switchGNSSOn() {
        for text in profile.gnssOn {
            engine.submit(ATCommand(text, priority: .background)) { [self] outcome in
                if !outcome.isSuccess {
                    logger.warning("switching the modem's GNSS on: a step failed", metadata: ["command": "\(text)", "outcome": "\(outcome)"])
                }
            }
        }
    }
}
