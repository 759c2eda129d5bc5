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
        var unanswered = 0
        var clockRetries = 0
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
        var outstanding: (sequence: Int, generation: Int)?
        /// Frames waiting for the outstanding one to be answered, oldest first, one per sequence.
        var waiting: [Report] = []
        /// When the last frame of any kind was written (monotonic ms).
        var lastSent: Int64 = 0
        var supervision: (any Cancellable)?
        var stopped = false
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
    }

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
                state.withLock { $0.lastSent = clock.now().milliseconds }
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

    /// Runs on `queue`.
    func transmit(_ report: Report, becauseOfNAK: Bool) {
        let sequence = report.sequence
        let queued = state.withLock { s -> Bool in
            guard settings.endpoints[s.endpoint].transport == .tcp, let outstanding = s.outstanding,
                  outstanding.generation == s.generation, s.connection != nil, outstanding.sequence != sequence else { return false }
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
        if queued { return }
        // The same frame still unanswered: the core's timeout says the receiver is silent.
        let failover = state.withLock { s -> Bool in
            guard !becauseOfNAK, var entry = s.inFlight[sequence], entry.endpoint == s.endpoint else { return false }
            entry.unanswered += 1
            s.inFlight[sequence] = entry
            return entry.unanswered >= settings.failoverAfter && settings.endpoints.count > 1
        }
        if failover { switchEndpoint(reason: "frame #\(sequence) unanswered \(settings.failoverAfter) times") }
        let frame: [UInt8]
        do {
            frame = try encode(report)
        } catch {
            logger.error("DC-09 frame could not be built", metadata: ["seq": "\(sequence)", "error": "\(error)"])
            emit(.outcome(sequence: sequence, .failed(.io)))
            return
        }
        do throws(Errno) {
            let connection = try currentConnection()
            try connection.send(frame)
            settings.frameWritten?(sequence)
            state.withLock { s in
                s.lastSent = clock.now().milliseconds
                let endpoint = s.endpoint
                var entry = s.inFlight[sequence] ?? InFlight(report: report, endpoint: endpoint)
                if entry.endpoint != endpoint { entry.endpoint = endpoint; entry.unanswered = 0 }
                entry.report = report
                s.inFlight[sequence] = entry
                if settings.endpoints[endpoint].transport == .tcp { s.outstanding = (sequence, s.generation) }
            }
        } catch {
            logger.warning("DC-09 send failed", metadata: ["receiver": "\(currentEndpoint)", "error": "\(error)"])
            dropConnection()
            if settings.endpoints.count > 1 { switchEndpoint(reason: "\(error)") }
            emit(.outcome(sequence: sequence, .failed(TCPReportLink.kind(of: error))))
        }
    }

    func encode(_ report: Report) throws -> [UInt8] {
        let base = (settings.utc?() ?? clock.wallTime()).millisecondsSince1970
        let (now, battery, signal) = state.withLock { s in
            (WallTime(millisecondsSince1970: base + s.clockOffsetMilliseconds), s.battery, s.signal)
        }
        let message = settings.composer.message(for: report, now: now, battery: battery, signal: signal)
        guard let key = settings.key else { return try DC09Frame.wrap(message.body) }
        let body = try state.withLock { s in try DC09Cipher.encryptedBody(message, key: key, using: &s.random) }
        return try DC09Frame.wrap(body)
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
            // With encryption on, an ACK must be encrypted with our key: a clear ACK (or one that does not open) may come
            // from anyone on the path, and taking it would let a forger make an undelivered alarm look delivered.
            if response.kind == .ack, let key = settings.key {
                guard response.encrypted, Self.opens(body, key: key) else {
                    logger.warning("DC-09 ACK not authenticated by our key; ignored", metadata: ["seq": "\(response.sequence)"])
                    continue
                }
            }
            answer(response)
        }
    }

    /// Whether the encrypted part of an answer (after the first "[") decrypts with `key` to text.
    static func opens(_ body: [UInt8], key: DC09Key) -> Bool {
        guard let open = body.firstIndex(of: UInt8(ascii: "[")) else { return false }
        let hex = String(decoding: body[body.index(after: open)...], as: UTF8.self)
        return (try? DC09Cipher.decryptTail(hex: hex, key: key)) != nil
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
        defer { if response.kind != .nak { sendNext(after: response.sequence) } }
        switch response.kind {
        case .ack:
            let known = state.withLock { $0.inFlight.removeValue(forKey: response.sequence) != nil }
            if known { emit(.outcome(sequence: response.sequence, .acknowledged)) }
        case .duh:
            let known = state.withLock { $0.inFlight.removeValue(forKey: response.sequence) != nil }
            logger.warning("DC-09 receiver cannot handle the frame (DUH)", metadata: ["seq": "\(response.sequence)"])
            if known { emit(.outcome(sequence: response.sequence, .refused)) }
        case .nak:
            nak(response)
        }
    }

    /// A NAK names no frame (its sequence is 0000): it applies to what is unanswered. When its timestamp shows our
    /// clock outside the window, the offset is corrected (within bounds) and those frames go again at once.
    func nak(_ response: DC09Response) {
        let ours = (settings.utc?() ?? clock.wallTime()).millisecondsSince1970
        enum Decision { case resend([Report]), refuseCorrection(Int64), reject([Int]) }
        let decision = state.withLock { s -> Decision in
            let pending = s.inFlight.values.sorted { $0.report.sequence < $1.report.sequence }
            guard let theirs = response.timestamp?.millisecondsSince1970 else {
                return .reject(pending.map(\.report.sequence))
            }
            let skew = theirs - (ours + s.clockOffsetMilliseconds)
            guard abs(skew) > settings.timestampTolerance.milliseconds else { return .reject(pending.map(\.report.sequence)) }
            let corrected = theirs - ours
            guard abs(corrected) <= settings.maximumClockCorrection.milliseconds else { return .refuseCorrection(corrected) }
            s.clockOffsetMilliseconds = corrected
            var resend: [Report] = []
            for var entry in pending where entry.clockRetries < 2 {
                entry.clockRetries += 1
                s.inFlight[entry.report.sequence] = entry
                resend.append(entry.report)
            }
            return .resend(resend)
        }
        switch decision {
        case .resend(let reports):
            logger.notice("receiver's clock differs from ours: timestamps corrected",
                          metadata: ["offset": "\(state.withLock { $0.clockOffsetMilliseconds }) ms"])
            state.withLock { $0.outstanding = nil }
            for report in reports { transmit(report, becauseOfNAK: true) }
        case .refuseCorrection(let offset):
            logger.error("NAK claims a clock far from ours; not corrected (a NAK is unauthenticated)",
                         metadata: ["offset": "\(offset / 1000) s"])
            let sequences = state.withLock { Array($0.inFlight.keys) }
            for sequence in sequences.sorted() { emit(.outcome(sequence: sequence, .rejected)) }
            sendNext(after: nil)
        case .reject(let sequences):
            for sequence in sequences { emit(.outcome(sequence: sequence, .rejected)) }
            sendNext(after: nil)
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
