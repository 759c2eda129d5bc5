import Dispatch
import HAL
import Logging
import PosixIO
import Synchronization

/// The modem's AT port on a serial line (or a pty standing in for one): opened raw and exclusive, read
/// through Dispatch (no polling), and reopened with backoff when it disappears — a USB modem re-enumerates
/// after a reset and its ttyUSB node comes back a few seconds later.
public final class SerialModemPort: Sendable {
    public struct Settings: Sendable, Hashable {
        public var path: String
        public var baud: Int
        public var hardwareFlowControl: Bool
        public init(path: String, baud: Int = 115_200, hardwareFlowControl: Bool = false) {
            self.path = path
            self.baud = baud
            self.hardwareFlowControl = hardwareFlowControl
        }
    }

    private struct State {
        var connection: StreamConnection?
        var attempts = 0
        var stopped = false
        var onOpen: (@Sendable () -> Void)?
        var onClose: (@Sendable () -> Void)?
        var onBytes: (@Sendable ([UInt8]) -> Void)?
        var written = 0
        var read = 0
        var afterRead: (@Sendable () -> Void)?
    }

    public let settings: Settings
    private let clock: any Clock
    private let logger: Logger
    private let queue = DispatchQueue(label: "alarmd.modem-port")
    private let state = Mutex(State())

    public init(settings: Settings, clock: any Clock, logger: Logger) {
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    /// Where the port's events go; call before `open`.
    public func connect(bytes: @escaping @Sendable ([UInt8]) -> Void, opened: @escaping @Sendable () -> Void,
                        closed: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.onBytes = bytes
            state.onOpen = opened
            state.onClose = closed
        }
    }

    /// Opens now, or keeps retrying with backoff (1 s, 2 s, 4 s … 10 s) until it can.
    public func open() {
        let (stopped, handlers) = state.withLock { ($0.stopped, ($0.onBytes, $0.onOpen)) }
        guard !stopped else { return }
        do {
            let descriptor = try SerialPort.open(settings.path, baud: settings.baud,
                                                 hardwareFlowControl: settings.hardwareFlowControl)
            let connection = StreamConnection(
                descriptor: descriptor, queue: queue, sendTimeoutMilliseconds: 2000,
                onBytes: { [self] bytes in
                    handlers.0?(bytes)
                    let observer = state.withLock { state in
                        state.read += bytes.count
                        return state.afterRead
                    }
                    observer?()
                },
                onClose: { [self] error in lost(error) })
            state.withLock { $0.connection = connection; $0.attempts = 0 }
            connection.start()
            logger.info("modem port open", metadata: ["port": "\(settings.path)", "baud": "\(settings.baud)"])
            handlers.1?()
        } catch {
            let attempt = state.withLock { state -> Int in
                state.attempts += 1
                return state.attempts
            }
            if attempt == 1 || attempt % 30 == 0 {
                logger.error("cannot open the modem port; retrying", metadata: ["port": "\(settings.path)", "error": "\(error)"])
            }
            let delay = Duration.seconds(min(10, 1 << min(attempt - 1, 4)))
            _ = clock.schedule(after: delay) { [self] in open() }
        }
    }

    /// Called after each batch of bytes has been handled and counted (tests wait on it instead of sleeping).
    public func observeReads(_ observer: @escaping @Sendable () -> Void) { state.withLock { $0.afterRead = observer } }

    /// Bytes written to and read (and handed on) from the port since it was created.
    public var byteCounts: (written: Int, read: Int) { state.withLock { ($0.written, $0.read) } }

    public func write(_ bytes: [UInt8]) {
        let connection = state.withLock { state -> StreamConnection? in
            if state.connection != nil { state.written += bytes.count }
            return state.connection
        }
        do {
            try connection?.send(bytes)
        } catch {
            logger.warning("write to the modem port failed", metadata: ["error": "\(error)"])
        }
    }

    public func close() {
        let connection = state.withLock { state -> StreamConnection? in
            state.stopped = true
            defer { state.connection = nil }
            return state.connection
        }
        connection?.close()
    }

    private func lost(_ error: Errno?) {
        let (closedHandler, stopped) = state.withLock { state -> ((@Sendable () -> Void)?, Bool) in
            state.connection = nil
            return (state.onClose, state.stopped)
        }
        guard !stopped else { return }
        logger.error("modem port lost; reopening", metadata: ["port": "\(settings.path)", "error": "\(error.map { "\($0)" } ?? "end of file")"])
        closedHandler?()
        _ = clock.schedule(after: .seconds(1)) { [self] in open() }
    }
}
