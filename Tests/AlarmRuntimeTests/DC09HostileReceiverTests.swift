import AlarmCodecs
import AlarmCore
import DC09
import Dispatch
import Glibc
import HAL
import LinuxBackends
import Logging
import ModemTestSupport
import SimBackends
import SimCentre
import Synchronization
import Testing

/// The real DC-09 link over loopback against a hostile receiver (`DC09Receiver.Policy.forgery`, `farOffNAKUntil`), on
/// a manual clock shared by the link and the receiver, so a minute of NAKs runs in milliseconds.
@Suite struct DC09HostileReceiverTests {
    static let account = DC09LinkTests.account
    static let key = DC09LinkTests.key

    struct Rig {
        let clock: ManualClock
        let receiver: DC09Receiver
        let link: DC09ReportLink
        let events: Collector<ReportLinkEvent>
        func stop() { link.stop(); receiver.stop() }
    }

    func rig(_ transport: DC09Endpoint.Transport = .tcp, configure: (inout DC09Receiver.Policy) -> Void) throws -> Rig {
        let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: DC09ReceiverClock.now()))
        var policy = DC09Receiver.Policy()
        policy.now = { clock.wallTime().millisecondsSince1970 }
        configure(&policy)
        let receiver = try DC09Receiver(accounts: [Self.account.account: Self.key], policy: policy)
        receiver.start()
        var settings = DC09LinkSettings(endpoints: [DC09Endpoint(transport, host: "127.0.0.1",
                                                                 port: transport == .tcp ? receiver.tcpPort : receiver.udpPort)],
                                        composer: DC09Composer(account: Self.account, format: .siaDCS, deviceID: "BE-T-1"), key: Self.key)
        settings.supervisionInterval = nil
        let link = DC09ReportLink(settings: settings, clock: clock, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let events = Collector<ReportLinkEvent>()
        try link.start { events.append($0) }
        return Rig(clock: clock, receiver: receiver, link: link, events: events)
    }

    func report(_ sequence: Int, _ kind: ReportKind = .alarm, at clock: ManualClock) -> Report {
        Report(sequence: sequence, kind: kind, alarmNumber: 1,
               position: Fix(latitude: 50.8466, longitude: 4.3528, horizontalAccuracy: 8, fixTime: clock.wallTime()),
               positionAge: .seconds(1), previousPositions: [], cell: nil)
    }

    static func poll(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while DispatchTime.now() < deadline {
            if condition() { return true }
            usleep(1000)
        }
        return condition()
    }

    static func acknowledged(_ events: [ReportLinkEvent]) -> [Int] {
        events.compactMap { if case .outcome(let s, .acknowledged) = $0 { s } else { nil } }
    }

    static func outcomeCount(_ events: [ReportLinkEvent]) -> Int {
        events.filter { if case .outcome = $0 { true } else { false } }.count
    }

    static func transmittedCount(_ events: [ReportLinkEvent]) -> Int {
        events.filter { if case .transmitted = $0 { true } else { false } }.count
    }

    /// Sends `count` reports one after the other, a few seconds apart on the shared clock, waiting each time until the
    /// forged answer reached the link and was judged. None may count.
    func noForgedACKCounts(_ forgery: DC09Receiver.Forgery, transport: DC09Endpoint.Transport = .tcp,
                           genuineFirst: Bool = false, count: Int = 4) throws -> Rig {
        let r = try rig(transport) { $0.forgery = forgery }
        for sequence in 1...count {
            r.link.send(report(sequence, sequence == 1 ? .alarm : .positionUpdate, at: r.clock))
            let genuine = genuineFirst && sequence == 1
            // The link's judgement is not an event: poll it (behind the link's queue) up to a deadline.
            let judged = Self.poll {
                genuine ? Self.acknowledged(r.events.all).contains(1)
                        : r.link.rejectedACKs.values.reduce(0, +) >= sequence - (genuineFirst ? 1 : 0)
            }
            #expect(judged, "the answer to #\(sequence) never arrived: \(r.receiver.answers)")
            // Position updates come seconds apart; over TCP the unanswered frame holds the next one for
            // `stopAndWaitTimeout` (10 s).
            r.clock.advance(by: .seconds(11))
        }
        return r
    }

    @Test(arguments: [DC09Endpoint.Transport.tcp, .udp])
    func ownFrameReflectedAsACKNeverCounts(transport: DC09Endpoint.Transport) throws {
        let r = try noForgedACKCounts(.reflect, transport: transport)
        defer { r.stop() }
        #expect(Self.acknowledged(r.events.all).isEmpty, "\(r.events.all)")
        #expect(r.link.rejectedACKs[.notAnACK] == 4, "\(r.link.rejectedACKs)")
        #expect(r.receiver.answers.allSatisfy { $0.answer == "reflected" })
    }

    @Test func genuineACKRelabelledWithAnotherSequenceNeverCounts() throws {
        let r = try noForgedACKCounts(.replayFirstACK, genuineFirst: true, count: 4)
        defer { r.stop() }
        #expect(Self.acknowledged(r.events.all) == [1], "only the genuine answer counts: \(r.events.all)")
        #expect(r.link.rejectedACKs == [.replay: 3], "\(r.link.rejectedACKs)")
        #expect(r.receiver.answers.map(\.answer) == ["ACK", "replayed ACK", "replayed ACK", "replayed ACK"])
    }

    @Test(arguments: [DC09Endpoint.Transport.tcp, .udp])
    func genuineACKTenMinutesOldNeverCounts(transport: DC09Endpoint.Transport) throws {
        let r = try noForgedACKCounts(.staleACK(age: .seconds(600)), transport: transport)
        defer { r.stop() }
        #expect(Self.acknowledged(r.events.all).isEmpty)
        #expect(r.link.rejectedACKs[.outsideWindow] == 4, "\(r.link.rejectedACKs)")
    }

    /// A receiver NAKs every frame for a minute with a time a day away, then answers properly. A stand-in for the core
    /// (its backoff: 1 s doubling to 30 s, restarted by every `.rejected`; a 10 s ACK timeout; a new position update
    /// every 5 s superseding the last) drives the real link: the alarm must go out again throughout and be
    /// delivered at the end, and every frame written must get its outcome.
    @Test(arguments: [DC09Endpoint.Transport.tcp, .udp])
    func farOffNAKsForAMinuteThenACK(transport: DC09Endpoint.Transport) throws {
        let r = try rig(transport) { _ in }
        defer { r.stop() }
        let startWall = r.clock.wallTime().millisecondsSince1970
        r.receiver.setPolicy { $0.farOffNAKUntil = startWall + 60_000 }
        let core = CoreStandIn(link: r.link, clock: r.clock)
        core.send(report(1, .alarm, at: r.clock))
        var nextPosition = 2
        var elapsed = 0
        while !Self.acknowledged(r.events.all).contains(1) && elapsed < 180_000 {
            // Every frame written has its answer processed before time moves on (a NAK → .rejected, an ACK).
            r.link.sync()
            _ = r.events.waitUntil(seconds: 2) { Self.outcomeCount($0) >= Self.transmittedCount($0) }
            r.link.sync()
            core.feed(r.events.all)
            if elapsed % 5000 == 0 && elapsed > 0 {
                core.send(report(nextPosition, .positionUpdate, at: r.clock))
                nextPosition += 1
            }
            r.clock.advance(by: .milliseconds(500))
            elapsed += 500
        }
        core.feed(r.events.all)
        #expect(Self.acknowledged(r.events.all).contains(1), "the alarm was never delivered: \(r.receiver.answers) \(r.events.all)")
        let alarm = r.receiver.answers.filter { $0.sequence == 1 }
        let times = alarm.map { $0.at - startWall }
        #expect(times.count >= 6, "the alarm went out \(times.count) times: \(times)")
        #expect(alarm.last?.answer == "ACK" && (times.last ?? 0) >= 60_000, "\(alarm)")
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 <= 31_000 }, "the alarm must be retried throughout (backoff capped at 30 s): \(times)")
        // Each NAK was reported for the frame it answered, once.
        let rejectedAlarm = r.events.all.filter { if case .outcome(1, .rejected) = $0 { true } else { false } }.count
        #expect(rejectedAlarm == alarm.filter { $0.answer == "NAK far off" }.count, "\(r.events.all)")
        #expect(r.link.clockOffset == .zero, "a far-off NAK never moves our clock")
    }

    /// A silent receiver: the second report waits behind the unanswered stop-and-wait frame, and the link says so by
    /// not reporting it transmitted; once the first is answered it goes.
    @Test func queuedIsNotTransmitted() throws {
        let r = try rig { $0.ignoreFirst = 1 }
        defer { r.stop() }
        r.link.send(report(1, .alarm, at: r.clock))
        #expect(r.events.waitUntil { $0.contains(.transmitted(sequence: 1)) })
        r.link.send(report(2, .positionUpdate, at: r.clock))
        #expect(!r.events.waitUntil(seconds: 0.3) { $0.contains(.transmitted(sequence: 2)) }, "#2 only waits")
        r.link.send(report(1, .alarm, at: r.clock))  // the core's resend: answered this time, and #2 follows
        #expect(r.events.waitUntil { Self.acknowledged($0).contains(2) })
        let transmitted = r.events.all.compactMap { if case .transmitted(let s) = $0 { s } else { nil } }
        #expect(transmitted == [1, 1, 2])
    }

    /// A stop-and-wait frame nobody answers and nobody resends (a superseded position) holds the queue only for
    /// `stopAndWaitTimeout`: after that the next report is written.
    @Test func anAbandonedUnansweredFrameDoesNotHoldTheQueueForEver() throws {
        let r = try rig { $0.ignoreFirst = 1 }
        defer { r.stop() }
        r.link.send(report(1, .positionUpdate, at: r.clock))
        #expect(r.events.waitUntil { $0.contains(.transmitted(sequence: 1)) })
        r.clock.advance(by: .seconds(11))
        r.link.send(report(2, .alarm, at: r.clock))
        #expect(r.events.waitUntil { Self.acknowledged($0).contains(2) }, "\(r.events.all)")
    }
}

/// What the core does with a report, reduced to the backoff: resend the same sequence after 1 s doubling to 30 s,
/// restarted by each `.rejected`/`.failed`; after 10 s without an answer, the same; a new position update drops the
/// older one.
final class CoreStandIn: Sendable {
    struct Pending {
        var report: Report
        var attempts = 1
        var retry: (any Cancellable)?
        var ackTimer: (any Cancellable)?
    }

    struct State {
        var pending: [Int: Pending] = [:]
        var consumed = 0
    }

    let link: DC09ReportLink
    let clock: ManualClock
    let state = Mutex(State())

    init(link: DC09ReportLink, clock: ManualClock) {
        self.link = link
        self.clock = clock
    }

    func send(_ report: Report) {
        state.withLock { s in
            if report.kind == .positionUpdate {
                for (sequence, pending) in s.pending where pending.report.kind == .positionUpdate {
                    pending.retry?.cancel()
                    pending.ackTimer?.cancel()
                    s.pending[sequence] = nil
                }
            }
            s.pending[report.sequence] = Pending(report: report)
        }
        transmit(report.sequence)
    }

    func transmit(_ sequence: Int) {
        let report = state.withLock { s -> Report? in
            guard var pending = s.pending[sequence] else { return nil }
            pending.ackTimer?.cancel()
            pending.ackTimer = clock.schedule(after: .seconds(10)) { [self] in timedOut(sequence) }
            s.pending[sequence] = pending
            return pending.report
        }
        if let report { link.send(report) }
    }

    func timedOut(_ sequence: Int) { scheduleRetry(sequence) }

    func scheduleRetry(_ sequence: Int) {
        state.withLock { s in
            guard var pending = s.pending[sequence] else { return }
            pending.ackTimer?.cancel()
            pending.retry?.cancel()
            let delay = Duration.seconds(min(30, 1 << min(pending.attempts - 1, 5)))
            pending.retry = clock.schedule(after: delay) { [self] in
                state.withLock { $0.pending[sequence]?.attempts += 1 }
                transmit(sequence)
            }
            s.pending[sequence] = pending
        }
    }

    /// Takes the link's events not seen yet.
    func feed(_ events: [ReportLinkEvent]) {
        let new = state.withLock { s -> ArraySlice<ReportLinkEvent> in
            defer { s.consumed = events.count }
            return events[s.consumed...]
        }
        for event in new {
            guard case .outcome(let sequence, let outcome) = event else { continue }
            switch outcome {
            case .acknowledged, .refused:
                state.withLock { s in
                    s.pending[sequence]?.retry?.cancel()
                    s.pending[sequence]?.ackTimer?.cancel()
                    s.pending[sequence] = nil
                }
            case .rejected, .failed:
                scheduleRetry(sequence)
            }
        }
    }
}
