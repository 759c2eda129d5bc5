import AlarmCodecs
import AlarmCore
import DC09
import Dispatch
import HAL
import Logging
import PosixIO
import Synchronization

/// One receiver of the centre: transport, host and port.
public struct DC09Endpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Transport: String, Sendable, Hashable { case tcp, udp }
    public var transport: Transport
    public var host: String
    public var port: UInt16

    public init(_ transport: Transport, host: String, port: UInt16) {
        self.transport = transport
        self.host = host
        self.port = port
    }

    public var description: String { "\(transport.rawValue)://\(host):\(port)" }
}

public struct DC09LinkSettings: Sendable {
    /// Primary first, then the secondary.
    public var endpoints: [DC09Endpoint]
    public var composer: DC09Composer
    /// nil sends in clear (simulator boards that say so explicitly).
    public var key: DC09Key?
    /// The modem's interface: every socket is bound to it.
    public var interface: String?
    /// A TCP connection silent for longer than this is not trusted with a frame (carrier NATs drop idle flows).
    public var maximumIdle: Duration = .seconds(60)
    /// The same frame unanswered this many times on one receiver moves the link to the next one.
    public var failoverAfter = 2
    /// A NAK may move our timestamps by at most this much from the device clock: it is unauthenticated.
    public var maximumClockCorrection: Duration = .seconds(300)
    /// Receivers accept timestamps 40 s in the past to 20 s in the future; beyond this our clock is off.
    public var timestampTolerance: Duration = .seconds(20)
    /// An encrypted ACK counts only when its timestamp is within this far before our clock (NAK correction included) …
    public var acknowledgementWindowPast: Duration = .seconds(40)
    /// … and this far after it. A receiver takes our frames while its clock is up to 40 s ahead of ours (their
    /// window reaches 40 s into the past), so its ACKs may be stamped up to 40 s ahead of us.
    public var acknowledgementWindowFuture: Duration = .seconds(40)
    /// TCP is stop-and-wait; a frame unanswered this long no longer holds back the frames behind it (the core resends
    /// it on its own timeout, or has given it up).
    public var stopAndWaitTimeout: Duration = .seconds(10)
    public var connectTimeout: Duration = .seconds(5)
    /// UTC for timestamps (the device's best estimate from GNSS, network and system clock); nil: the clock's wall time.
    public var utc: (@Sendable () -> WallTime)?
    /// A NULL frame after this long without any frame (link supervision); nil: none. Hourly by default: a
    /// wearable's battery matters more than a tighter check.
    public var supervisionInterval: Duration? = .seconds(3600)
    /// Called with the sequence right after a frame went into the socket (benchmarks).
    public var frameWritten: (@Sendable (Int) -> Void)?

    public init(endpoints: [DC09Endpoint], composer: DC09Composer, key: DC09Key?) {
        self.endpoints = endpoints
        self.composer = composer
        self.key = key
    }
}

/// The report link in SIA DC-09: each report becomes one frame written in one write, to the primary receiver or,
/// after repeated silence, the secondary. ACKs are matched by sequence; a NAK that shows our clock is off corrects
/// the timestamp offset (bounded) and resends at once, at most twice; DUH is final for the frame.
public final class DC09ReportLink: ReportLink, DeviceStateReporting {
    struct InFlight {
        var report: Report
        var endpoint: Int
        /// Core resends while the previous transmission got no answer at all (for failover; a NAK is an answer).
        var unanswered = 0
        var clockRetries = 0
        /// When its frame last went into the socket (monotonic ms).
        var lastTransmitted: Int64 = 0
        /// Transmitted and not answered since (no ACK, NAK, DUH or failure reported for this transmission).
        var awaiting = false
    }

    struct State {
        var endpoint = 0
        var connection: StreamConnection?
        var generation = 0
        var decoder = StreamFramer(DC09FrameDecoder())
        var lastReceived: Int64 = 0
        var inFlight: [Int: InFlight] = [:]
        /// Added to the device's wall clock in every timestamp (corrected by NAKs within bounds).
        var clockOffsetMilliseconds: Int64 = 0
        var random = SystemRandomNumberGenerator()
        var battery: Int?
        var signal: Int?
        /// TCP is stop-and-wait: the frame awaiting its answer on the connection of this generation. Many receivers
        /// (pysiaalarm among them) parse each read on its own, so a second frame sent behind the first can arrive
        /// split across two reads and be lost.
        var outstanding: (sequence: Int, generation: Int, since: Int64)?
        /// Frames waiting for the outstanding one to be answered, oldest first, one per sequence.
        var waiting: [Report] = []
        /// When the last frame of any kind was written (monotonic ms).
        var lastSent: Int64 = 0
        var supervision: (any Cancellable)?
        var stopped = false
        /// Our own recent ciphertexts and the ACKs already seen (encrypted links).
        var ackGuard = DC09ACKGuard()
        /// ACKs that did not count, by reason (each reason is logged once).
        var rejectedACKs: [DC09ACKRejection: Int] = [:]
    }

    let settings: DC09LinkSettings
    let clock: any Clock
    let logger: Logger
    let queue = DispatchQueue(label: "alarmd.dc09-link")
    let relay = Mutex<(@Sendable (ReportLinkEvent) -> Void)?>(nil)
    let state = Mutex(State())

    public init(settings: DC09LinkSettings, clock: any Clock, logger: Logger) {
        precondition(!settings.endpoints.isEmpty, "a DC-09 link needs at least one receiver")
        self.settings = settings
        self.clock = clock
        self.logger = logger
        state.withLock {
            $0.ackGuard = DC09ACKGuard(windowPast: settings.acknowledgementWindowPast, windowFuture: settings.acknowledgementWindowFuture)
        }
    }

    /// ACKs ignored so far, by reason (status and tests).
    public var rejectedACKs: [DC09ACKRejection: Int] { state.withLock { $0.rejectedACKs } }

    public func start(_ events: @escaping @Sendable (ReportLinkEvent) -> Void) throws(HALError) {
        relay.withLock { $0 = events }
        state.withLock { $0.lastSent = clock.now().milliseconds }
        scheduleSupervision()
    }

    /// Stops link supervision (the daemon is shutting down).
    public func stop() {
        let timer = state.withLock { s -> (any Cancellable)? in
            s.stopped = true
            defer { s.supervision = nil }
            return s.supervision
        }
        timer?.cancel()
        dropConnection()
    }

    func scheduleSupervision() {
        guard let interval = settings.supervisionInterval else { return }
        let due = state.withLock { s -> Duration in
            let idle = clock.now().milliseconds - s.lastSent
            return .milliseconds(max(0, interval.milliseconds - idle))
        }
        let timer = clock.schedule(after: due) { [self] in
            queue.async { [self] in supervise() }
        }
        let stopped = state.withLock { s -> Bool in
            guard !s.stopped else { return true }
            s.supervision?.cancel()
            s.supervision = timer
            return false
        }
        if stopped { timer.cancel() }
    }

    /// Runs on `queue`: a NULL frame when nothing else went out for a whole interval.
    func supervise() {
        guard let interval = settings.supervisionInterval else { return }
        let (due, busy) = state.withLock { s in
            (clock.now().milliseconds - s.lastSent >= interval.milliseconds, s.outstanding != nil)
        }
        if due && !busy {
            do {
                let message = DC09Message(kind: .null, sequence: 0, account: settings.composer.account, data: "",
                                          timestamp: currentUTC())
                let body: [UInt8]
                if let key = settings.key {
                    body = try state.withLock { s in try DC09Cipher.encryptedBody(message, key: key, using: &s.random) }
                } else {
                    body = message.body
                }
                try currentConnection().send(try DC09Frame.wrap(body))
                let now = clock.now().milliseconds
                state.withLock { s in
                    s.lastSent = now
                    // Its plaintext (`pad|]_timestamp`) has an ACK's shape: sent back as "*ACK" it must be recognised.
                    if settings.key != nil { s.ackGuard.sent(ciphertext: DC09Cipher.ciphertext(ofBody: body), now: now) }
                }
            } catch {
                logger.warning("link supervision (NULL) could not be sent", metadata: ["receiver": "\(currentEndpoint)", "error": "\(error)"])
                emit(.linkDown(.notReady))
            }
        }
        scheduleSupervision()
    }

    func currentUTC() -> WallTime {
        let base = (settings.utc?() ?? clock.wallTime()).millisecondsSince1970
        return WallTime(millisecondsSince1970: base + state.withLock { $0.clockOffsetMilliseconds })
    }

    /// Battery and signal for the detail block of the next frames.
    public func setDeviceState(battery: Int?, signal: Int?) {
        state.withLock { $0.battery = battery; $0.signal = signal }
    }

    /// The receiver currently in use (for status).
    public var currentEndpoint: DC09Endpoint { settings.endpoints[state.withLock { $0.endpoint }] }
    public var clockOffset: Duration { .milliseconds(state.withLock { $0.clockOffsetMilliseconds }) }

    public func send(_ report: Report) {
        queue.async { [self] in transmit(report, becauseOfNAK: false) }
    }

    /// Returns once everything handed to the link so far (sends, answers already read) has been processed: a barrier
    /// for tests that drive the link on a manual clock.
    public func sync() {
        queue.sync {}
    }

    /// Runs on `queue`. Every call writes the frame unless it waits behind TCP's stop-and-wait frame; a failure to
    /// write is reported for this sequence at once.
    func transmit(_ report: Report, becauseOfNAK: Bool) {
        let sequence = report.sequence
        let now = clock.now().milliseconds
        let queued = state.withLock { s -> Bool in
            guard settings.endpoints[s.endpoint].transport == .tcp, let outstanding = s.outstanding,
                  outstanding.generation == s.generation, s.connection != nil, outstanding.sequence != sequence else { return false }
            // A frame unanswered this long holds nothing back any more: its sequence is the core's to resend (or it
            // gave it up, e.g. a superseded position), and what waits behind it must not wait for ever.
            if now - outstanding.since >= settings.stopAndWaitTimeout.milliseconds {
                s.outstanding = nil
                return false
            }
            if let index = s.waiting.firstIndex(where: { $0.sequence == sequence }) {
                s.waiting[index] = report
            } else {
                // A newer position makes a waiting older one worthless (the core has dropped it already).
                if report.kind == .positionUpdate {
                    s.waiting.removeAll { $0.kind == .positionUpdate }
                    s.waiting.append(report)
                } else {
                    // What must arrive (the alarm, a cancel, the end, trouble) goes before a waiting position: on a
                    // stop-and-wait link every frame ahead of the alarm costs the dispatcher a round trip.
                    let firstPosition = s.waiting.firstIndex { $0.kind == .positionUpdate } ?? s.waiting.endIndex
                    s.waiting.insert(report, at: firstPosition)
                }
            }
            return true
        }
        if queued {
            logger.debug("DC-09 frame queued behind the unanswered one", metadata: ["seq": "\(sequence)"])
            return
        }
        state.withLock { $0.waiting.removeAll { $0.sequence == sequence } }
        // The same frame still unanswered (no answer at all since it last went): the core's timeout says the
        // receiver is silent.
        let failover = state.withLock { s -> Bool in
            guard !becauseOfNAK, var entry = s.inFlight[sequence], entry.endpoint == s.endpoint, entry.awaiting else { return false }
            entry.unanswered += 1
            s.inFlight[sequence] = entry
            return entry.unanswered >= settings.failoverAfter && settings.endpoints.count > 1
        }
        if failover { switchEndpoint(reason: "frame #\(sequence) unanswered \(settings.failoverAfter) times") }
        let body: [UInt8], frame: [UInt8]
        do {
            body = try encode(report)
            frame = try DC09Frame.wrap(body)
        } catch {
            logger.error("DC-09 frame could not be built", metadata: ["seq": "\(sequence)", "error": "\(error)"])
            emit(.outcome(sequence: sequence, .failed(.io)))
            return
        }
        do throws(Errno) {
            let connection = try currentConnection()
            try connection.send(frame)
            settings.frameWritten?(sequence)
            let now = clock.now().milliseconds
            state.withLock { s in
                s.lastSent = now
                let endpoint = s.endpoint
                var entry = s.inFlight[sequence] ?? InFlight(report: report, endpoint: endpoint)
                if entry.endpoint != endpoint { entry.endpoint = endpoint; entry.unanswered = 0 }
                entry.report = report
                entry.lastTransmitted = now
                entry.awaiting = true
                s.inFlight[sequence] = entry
                if settings.endpoints[endpoint].transport == .tcp { s.outstanding = (sequence, s.generation, now) }
                if settings.key != nil { s.ackGuard.sent(ciphertext: DC09Cipher.ciphertext(ofBody: body), now: now) }
            }
            emit(.transmitted(sequence: sequence))
        } catch {
            logger.warning("DC-09 send failed", metadata: ["receiver": "\(currentEndpoint)", "error": "\(error)"])
            state.withLock { s in
                s.inFlight[sequence]?.awaiting = false
                if s.outstanding?.sequence == sequence { s.outstanding = nil }
            }
            dropConnection()
            if settings.endpoints.count > 1 { switchEndpoint(reason: "\(error)") }
            emit(.outcome(sequence: sequence, .failed(TCPReportLink.kind(of: error))))
        }
    }

    /// The frame's body (encrypted when the link has a key).
    func encode(_ report: Report) throws -> [UInt8] {
        let base = (settings.utc?() ?? clock.wallTime()).millisecondsSince1970
        let (now, battery, signal) = state.withLock { s in
            (WallTime(millisecondsSince1970: base + s.clockOffsetMilliseconds), s.battery, s.signal)
        }
        let message = settings.composer.message(for: report, now: now, battery: battery, signal: signal)
        guard let key = settings.key else { return message.body }
        return try state.withLock { s in try DC09Cipher.encryptedBody(message, key: key, using: &s.random) }
    }

    func switchEndpoint(reason: String) {
        let (from, to) = state.withLock { s -> (Int, Int) in
            let from = s.endpoint
            s.endpoint = (s.endpoint + 1) % settings.endpoints.count
            return (from, s.endpoint)
        }
        dropConnection()
        logger.warning("DC-09 receiver changed", metadata: ["from": "\(settings.endpoints[from])",
                                                           "to": "\(settings.endpoints[to])", "reason": "\(reason)"])
    }

    /// Runs on `queue`.
    func currentConnection() throws(Errno) -> StreamConnection {
        let now = clock.now().milliseconds
        let (existing, endpoint) = state.withLock { s -> (StreamConnection?, DC09Endpoint) in
            let endpoint = settings.endpoints[s.endpoint]
            guard let connection = s.connection else { return (nil, endpoint) }
            if endpoint.transport == .tcp, now - s.lastReceived >= settings.maximumIdle.milliseconds {
                s.connection = nil
                connection.close()
                return (nil, endpoint)
            }
            return (connection, endpoint)
        }
        if let existing { return existing }
        let descriptor: FileDescriptor
        switch endpoint.transport {
        case .tcp:
            descriptor = try TCP.connect(host: endpoint.host, port: endpoint.port,
                                         timeoutMilliseconds: Int32(settings.connectTimeout.milliseconds),
                                         interface: settings.interface)
        case .udp:
            descriptor = try UDP.connect(host: endpoint.host, port: endpoint.port, interface: settings.interface)
        }
        let generation = state.withLock { s -> Int in
            s.generation += 1
            s.decoder = StreamFramer(DC09FrameDecoder())
            return s.generation
        }
        let connection = StreamConnection(
            descriptor: descriptor, queue: queue, sendTimeoutMilliseconds: 5000,
            onBytes: { [self] bytes in received(bytes) },
            onClose: { [self] error in closed(generation: generation, error: error) })
        state.withLock { $0.connection = connection; $0.lastReceived = now }
        connection.start()
        emit(.linkUp)
        return connection
    }

    func received(_ bytes: [UInt8]) {
        let items = state.withLock { s in
            s.lastReceived = clock.now().milliseconds
            return s.decoder.feed(bytes)
        }
        for item in items {
            guard case .frame(let frame) = item else {
                logger.warning("overlong data from the receiver dropped")
                continue
            }
            let response: DC09Response
            let body: [UInt8]
            do {
                body = try DC09Frame.unwrap(frame)
                guard let parsed = DC09Response.parse(body) else {
                    logger.warning("unreadable DC-09 answer skipped")
                    continue
                }
                response = parsed
            } catch {
                logger.warning("DC-09 answer with a bad frame skipped", metadata: ["error": "\(error)"])
                continue
            }
            // With encryption on, an ACK counts only when it is genuinely the receiver's answer to that frame (see
            // `ackCounts`): taking a forged one would make an undelivered alarm look delivered.
            if response.kind == .ack, let key = settings.key {
                guard ackCounts(body, key: key) else { continue }
            }
            answer(response)
        }
    }

    /// Whether an ACK body counts: it opens with our key as exactly an ACK (`DC09Cipher.openACK`: our header, pad,
    /// `]`, extended data that is not an event's, the timestamp and nothing else), is not one of our own frames sent
    /// back, its timestamp is within the window around our clock, its sequence is in flight, and it is not a copy of
    /// an ACK already seen for a frame sent after that one (`DC09ACKGuard`). Each kind of refusal is logged once.
    func ackCounts(_ body: [UInt8], key: DC09Key) -> Bool {
        let verdict: (sequence: Int?, rejection: DC09ACKRejection?)
        switch DC09Cipher.openACK(body, key: key, account: settings.composer.account) {
        case .failure(let rejection):
            verdict = (DC09Response.parse(body)?.sequence, rejection)
        case .success(let ack):
            let utc = currentUTC().millisecondsSince1970
            let now = clock.now().milliseconds
            let rejection = state.withLock { s -> DC09ACKRejection? in
                let entry = s.inFlight[ack.sequence]
                return s.ackGuard.judge(ack, utc: utc, now: now, lastTransmitted: entry.map(\.lastTransmitted))
            }
            verdict = (ack.sequence, rejection)
        }
        guard let rejection = verdict.rejection else { return true }
        let first = state.withLock { s -> Bool in
            defer { s.rejectedACKs[rejection, default: 0] += 1 }
            return s.rejectedACKs[rejection] == nil
        }
        let metadata: Logger.Metadata = ["seq": "\(verdict.sequence.map(String.init) ?? "?")", "reason": "\(rejection.rawValue)"]
        if first {
            logger.warning("DC-09 ACK ignored: not the receiver's answer to that frame (further ones for this reason are counted, not logged)",
                           metadata: metadata)
        } else {
            logger.debug("DC-09 ACK ignored", metadata: metadata)
        }
        return false
    }

    /// The outstanding frame is answered (or given up): the next waiting one goes.
    func sendNext(after sequence: Int?) {
        let next = state.withLock { s -> Report? in
            if let sequence, s.outstanding?.sequence != sequence { return nil }
            s.outstanding = nil
            return s.waiting.isEmpty ? nil : s.waiting.removeFirst()
        }
        if let next { transmit(next, becauseOfNAK: false) }
    }

    func answer(_ response: DC09Response) {
        switch response.kind {
        case .ack:
            let known = state.withLock { $0.inFlight.removeValue(forKey: response.sequence) != nil }
            if known { emit(.outcome(sequence: response.sequence, .acknowledged)) }
            sendNext(after: response.sequence)
        case .duh:
            let known = state.withLock { $0.inFlight.removeValue(forKey: response.sequence) != nil }
            logger.warning("DC-09 receiver cannot handle the frame (DUH)", metadata: ["seq": "\(response.sequence)"])
            if known { emit(.outcome(sequence: response.sequence, .refused)) }
            sendNext(after: response.sequence)
        case .nak:
            nak(response)
        }
    }

    /// A NAK names no frame (its sequence is 0000): over TCP (stop-and-wait) it answers the outstanding frame, over
    /// UDP every frame awaiting an answer. Each of them gets an outcome now, so the core resends it with its backoff:
    /// - its timestamp shows our clock outside the window by at most `maximumClockCorrection`: the offset is
    ///   corrected and the frame goes again at once (at most twice per frame; after that it is `.rejected`);
    /// - a time further off: the correction is refused (a NAK is unauthenticated) and the frame is `.rejected`;
    /// - otherwise (no timestamp, our clock fine): `.rejected`.
    /// Only the frames the NAK answers are reported: reporting others would restart their backoff at every NAK.
    func nak(_ response: DC09Response) {
        let ours = (settings.utc?() ?? clock.wallTime()).millisecondsSince1970
        enum Decision { case resend, refuseCorrection(Int64), reject }
        let (decision, resend, rejected) = state.withLock { s -> (Decision, [Report], [Int]) in
            let answered: [Int]
            if settings.endpoints[s.endpoint].transport == .tcp {
                answered = s.outstanding.flatMap { $0.generation == s.generation ? [$0.sequence] : nil } ?? []
            } else {
                answered = s.inFlight.values.filter(\.awaiting).map(\.report.sequence).sorted()
            }
            for sequence in answered {
                s.inFlight[sequence]?.awaiting = false
                s.inFlight[sequence]?.unanswered = 0
            }
            let answeredEntries = answered.compactMap { s.inFlight[$0] }
            guard let theirs = response.timestamp?.millisecondsSince1970 else { return (.reject, [], answered) }
            let skew = theirs - (ours + s.clockOffsetMilliseconds)
            guard abs(skew) > settings.timestampTolerance.milliseconds else { return (.reject, [], answered) }
            let corrected = theirs - ours
            guard abs(corrected) <= settings.maximumClockCorrection.milliseconds else {
                return (.refuseCorrection(corrected), [], answered)
            }
            s.clockOffsetMilliseconds = corrected
            var resend: [Report] = [], rejected: [Int] = []
            for var entry in answeredEntries {
                if entry.clockRetries < 2 {
                    entry.clockRetries += 1
                    s.inFlight[entry.report.sequence] = entry
                    resend.append(entry.report)
                } else {
                    rejected.append(entry.report.sequence)
                }
            }
            return (.resend, resend, rejected)
        }
        switch decision {
        case .resend:
            logger.notice("receiver's clock differs from ours: timestamps corrected",
                          metadata: ["offset": "\(state.withLock { $0.clockOffsetMilliseconds }) ms"])
        case .refuseCorrection(let offset):
            logger.error("NAK claims a clock far from ours; not corrected (a NAK is unauthenticated)",
                         metadata: ["offset": "\(offset / 1000) s", "seq": "\(rejected)"])
        case .reject:
            logger.warning("DC-09 receiver refused the frame (NAK)", metadata: ["seq": "\(rejected)"])
        }
        for sequence in rejected { emit(.outcome(sequence: sequence, .rejected)) }
        if resend.isEmpty {
            sendNext(after: nil)
        } else {
            state.withLock { $0.outstanding = nil }
            for report in resend { transmit(report, becauseOfNAK: true) }
        }
    }

    func closed(generation: Int, error: Errno?) {
        let current = state.withLock { s -> Bool in
            guard s.generation == generation else { return false }
            s.connection = nil
            return true
        }
        guard current else { return }
        emit(.linkDown(error.map(TCPReportLink.kind(of:)) ?? .notReady))
        // What waited behind the lost connection's frame goes on a fresh one.
        sendNext(after: nil)
    }

    func dropConnection() {
        let connection = state.withLock { s -> StreamConnection? in
            defer { s.connection = nil; s.generation += 1 }
            return s.connection
        }
        connection?.close()
    }

    /// The data path under the link is gone: fail what waits for an answer now (see TCPReportLink.pathLost).
    public func pathLost() {
        queue.async { [self] in
            let lost = state.withLock { s -> [Int] in
                defer {
                    s.inFlight.removeAll()
                    s.waiting.removeAll()
                    s.outstanding = nil
                }
                return Set(s.inFlight.keys).union(s.waiting.map(\.sequence)).sorted()
            }
            dropConnection()
            emit(.linkDown(.notReady))
            for sequence in lost { emit(.outcome(sequence: sequence, .failed(.notReady))) }
        }
    }

    func emit(_ event: ReportLinkEvent) {
        relay.withLock { $0 }?(event)
    }
}
