import AlarmCodecs
import AlarmCore
import Dispatch
import HAL
import Logging
import PosixIO
import Synchronization

/// The report link over TCP with the interim line framing (SIA DC-09 replaces the framing later).
/// Connects on demand, writes each frame in one write, turns ACK/NAK/commands into events, and never
/// sends into a connection idle for longer than `maximumIdle`: mobile carriers' NATs drop idle TCP
/// flows silently, and an alarm written into such a connection would wait for a timeout.
public final class TCPReportLink: ReportLink {
    private struct State {
        var connection: StreamConnection?
        var decoder = StreamFramer(CentreMessageDecoder())
        var lastActivity: Int64 = 0
        var generation = 0
    }

    private let host: String
    private let port: UInt16
    private let deviceID: String
    private let clock: any Clock
    private let connectTimeoutMilliseconds: Int32
    private let maximumIdle: Duration
    private let logger: Logger
    private let queue = DispatchQueue(label: "alarmd.report-link")
    private let relay = Mutex<(@Sendable (ReportLinkEvent) -> Void)?>(nil)
    private let state = Mutex(State())

    public init(host: String, port: UInt16, deviceID: String, clock: any Clock, logger: Logger,
                connectTimeout: Duration = .seconds(5), maximumIdle: Duration = .seconds(60)) {
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
                state.withLock { $0.lastActivity = clock.now().milliseconds }
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
            if now - state.lastActivity >= maximumIdle.milliseconds {
                state.connection = nil
                connection.close()
                return nil
            }
            return connection
        }
        if let existing { return existing }
        let descriptor = try TCP.connect(host: host, port: port, timeoutMilliseconds: connectTimeoutMilliseconds)
        let generation = state.withLock { state -> Int in
            state.generation += 1
            state.decoder = StreamFramer(CentreMessageDecoder())
            return state.generation
        }
        let connection = StreamConnection(
            descriptor: descriptor, queue: queue, sendTimeoutMilliseconds: 5000,
            onBytes: { [self] bytes in received(bytes) },
            onClose: { [self] error in closed(generation: generation, error: error) })
        state.withLock { $0.connection = connection; $0.lastActivity = now }
        connection.start()
        emit(.linkUp)
        return connection
    }

    private func received(_ bytes: [UInt8]) {
        let messages = state.withLock { state in
            state.lastActivity = clock.now().milliseconds
            return state.decoder.feed(bytes)
        }
        for message in messages {
            switch message {
            case .success(.ack(let sequence)): emit(.outcome(sequence: sequence, .acknowledged))
            case .success(.nak(let sequence)): emit(.outcome(sequence: sequence, .rejected))
            case .success(.command(let command)): emit(.command(command))
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
