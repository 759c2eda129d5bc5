import AlarmCodecs
import AlarmCore
import Dispatch
import HAL
import Logging
import PosixIO
import Synchronization

/// The report link over TCP with the interim line framing (SIA DC-09 replaces the framing later).
/// Connects on demand, writes each frame in one write, turns ACK/NAK/commands into events, and never
/// sends into a connection that has been silent for longer than `maximumIdle`: mobile carriers' NATs drop
/// idle TCP flows silently, and an alarm written into such a connection would wait for a timeout.
/// Silence is measured on what the centre sends, not on what we send: a write into a dead flow still
/// "succeeds" into the kernel's buffer. A frame left unanswered for `unansweredLimit` also condemns the
/// connection, so the resend goes over a fresh one.
public final class TCPReportLink: ReportLink {
    private struct State {
        var connection: StreamConnection?
        var decoder = StreamFramer(CentreMessageDecoder())
        /// When the centre last sent anything (or the connection was made), monotonic ms.
        var lastReceived: Int64 = 0
        /// When the oldest frame not followed by any answer was sent; nil when everything sent was answered.
        var unansweredSince: Int64?
        var generation = 0
        /// Sequences written on the current connection and not answered yet.
        var inFlight: Set<Int> = []
    }

    private let host: String
    private let port: UInt16
    private let deviceID: String
    private let clock: any Clock
    private let connectTimeoutMilliseconds: Int32
    private let maximumIdle: Duration
    private let unansweredLimit: Duration
    private let acceptsCommands: Bool
    /// The modem's network interface: sockets are bound to it, so no other interface can carry (or hide) the path.
    private let interface: String?
    private let logger: Logger
    private let queue = DispatchQueue(label: "alarmd.report-link")
    private let relay = Mutex<(@Sendable (ReportLinkEvent) -> Void)?>(nil)
    private let state = Mutex(State())

    /// `acceptsCommands`: this interim framing has no authentication, so only simulator and HIL boards
    /// take centre commands from it.
    public init(host: String, port: UInt16, deviceID: String, clock: any Clock, logger: Logger,
                connectTimeout: Duration = .seconds(5), maximumIdle: Duration = .seconds(60),
                unansweredLimit: Duration = .seconds(10), acceptsCommands: Bool, interface: String? = nil) {
        self.interface = interface
        self.unansweredLimit = unansweredLimit
        self.acceptsCommands = acceptsCommands
        self.host = host
        self.port = port
        self.deviceID = deviceID
        self.clock = clock
        self.logger = logger
        connectTimeoutMilliseconds = Int32(connectTimeout.milliseconds)
        self.maximumIdle = maximumIdle
    }

    public func start(_ events: @escaping @Sendable (ReportLinkEvent) -> Void) throws(HALError) {
        relay.withLock { $0 = events }
    }

    public func send(_ report: Report) {
        let frame = InterimFraming.encode(ReportFrame(deviceID: deviceID, sentAt: clock.wallTime(), report: report))
        queue.async { [self] in
            do throws(Errno) {
                let connection = try currentConnection()
                try connection.send(frame)
                let now = clock.now().milliseconds
                state.withLock {
                    $0.unansweredSince = $0.unansweredSince ?? now
                    $0.inFlight.insert(report.sequence)
                }
                emit(.transmitted(sequence: report.sequence))
            } catch {
                logger.warning("report link send failed", metadata: ["endpoint": "\(host):\(port)", "error": "\(error)"])
                dropConnection()
                emit(.outcome(sequence: report.sequence, .failed(Self.kind(of: error))))
            }
        }
    }

    /// Runs on `queue` only.
    private func currentConnection() throws(Errno) -> StreamConnection {
        let now = clock.now().milliseconds
        let existing = state.withLock { state -> StreamConnection? in
            guard let connection = state.connection else { return nil }
            let silent = now - state.lastReceived >= maximumIdle.milliseconds
            let unanswered = state.unansweredSince.map { now - $0 >= unansweredLimit.milliseconds } ?? false
            if silent || unanswered {
                state.connection = nil
                state.unansweredSince = nil
                state.inFlight.removeAll()
                connection.close()
                return nil
            }
            return connection
        }
        if let existing { return existing }
        let descriptor = try TCP.connect(host: host, port: port, timeoutMilliseconds: connectTimeoutMilliseconds,
                                         interface: interface)
        let generation = state.withLock { state -> Int in
            state.generation += 1
            state.decoder = StreamFramer(CentreMessageDecoder())
            return state.generation
        }
        let connection = StreamConnection(
            descriptor: descriptor, queue: queue, sendTimeoutMilliseconds: 5000,
            onBytes: { [self] bytes in received(bytes) },
            onClose: { [self] error in closed(generation: generation, error: error) })
        state.withLock { $0.connection = connection; $0.lastReceived = now; $0.unansweredSince = nil }
        connection.start()
        emit(.linkUp)
        return connection
    }

    private func received(_ bytes: [UInt8]) {
        let messages = state.withLock { state in
            state.lastReceived = clock.now().milliseconds
            state.unansweredSince = nil
            return state.decoder.feed(bytes)
        }
        for message in messages {
            switch message {
            case .success(.ack(let sequence)):
                state.withLock { _ = $0.inFlight.remove(sequence) }
                emit(.outcome(sequence: sequence, .acknowledged))
            case .success(.nak(let sequence)):
                state.withLock { _ = $0.inFlight.remove(sequence) }
                emit(.outcome(sequence: sequence, .rejected))
            case .success(.command(let command)):
                if acceptsCommands {
                    emit(.command(command))
                } else {
                    logger.warning("unauthenticated centre command ignored on a device board",
                                   metadata: ["command": "\(command.action.rawValue)"])
                }
            case .failure(let error):
                logger.warning("malformed line from the centre skipped", metadata: ["reason": "\(error)"])
            }
        }
    }

    private func closed(generation: Int, error: Errno?) {
        let current = state.withLock { state -> Bool in
            guard state.generation == generation else { return false }
            state.connection = nil
            return true
        }
        guard current else { return }
        emit(.linkDown(error.map(Self.kind(of:)) ?? .notReady))
    }

    /// The interface under the link went away: the connection is dead even if the kernel has not noticed yet.
    /// Frames waiting for an answer fail now, so the core resends or falls back at once instead of after a timeout.
    public func pathLost() {
        queue.async { [self] in
            let (connection, lost) = state.withLock { state -> (StreamConnection?, Set<Int>) in
                defer {
                    state.connection = nil
                    state.inFlight.removeAll()
                    state.unansweredSince = nil
                    state.generation += 1
                }
                return (state.connection, state.inFlight)
            }
            guard connection != nil || !lost.isEmpty else { return }
            connection?.close()
            logger.warning("report link closed: the data path is gone", metadata: ["unanswered": "\(lost.count)"])
            emit(.linkDown(.notReady))
            for sequence in lost.sorted() { emit(.outcome(sequence: sequence, .failed(.notReady))) }
        }
    }

    private func dropConnection() {
        let connection = state.withLock { state -> StreamConnection? in
            defer { state.connection = nil }
            return state.connection
        }
        connection?.close()
    }

    private func emit(_ event: ReportLinkEvent) {
        let sink = relay.withLock { $0 }
        sink?(event)
    }

    static func kind(of error: Errno) -> FaultKind {
        switch error {
        case .connectionRefused: .rejected
        case .timedOut: .timeout
        case .hostUnreachable, .notConnected, .connectionReset, .brokenPipe: .notReady
        default: .io
        }
    }
}
