import AlarmCodecs
import Dispatch
import Glibc
import Logging
import PosixIO
import Synchronization

/// The daemon's local control socket. Owner-only (mode 0600, and the peer's uid is checked), one JSON
/// request per line. Watchers get timeline records through a bounded per-client queue so that a
/// stalled reader can never slow the alarm down.
public final class ControlServer: Sendable {
    private let path: String
    private let runtime: DeviceRuntime
    private let simulation: (any SimulationCommands)?
    private let logger: Logger
    private let queue = DispatchQueue(label: "alarmd.control")
    private let listener: FileDescriptor
    private let source = Mutex<ReadSourceBox?>(nil)
    private let clients = Mutex<[ObjectIdentifier: Client]>([:])

    public init(path: String, runtime: DeviceRuntime, simulation: (any SimulationCommands)?, logger: Logger) throws(Errno) {
        self.path = path
        self.runtime = runtime
        self.simulation = simulation
        self.logger = logger
        listener = try UnixSocket.listen(path: path, mode: 0o600)
        try listener.setNonBlocking()
    }

    public func start() {
        let readSource = DispatchSource.makeReadSource(fileDescriptor: listener.rawValue, queue: queue)
        readSource.setEventHandler { [self] in acceptPending() }
        // The listener is closed only once the source can no longer touch it.
        let listener = self.listener
        readSource.setCancelHandler { try? listener.close() }
        source.withLock { $0 = ReadSourceBox(source: readSource) }
        readSource.resume()
    }

    /// Stops accepting, closes every client and removes the socket file.
    public func stop() {
        source.withLock { $0?.source.cancel(); $0 = nil }
        let all = clients.withLock { clients in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        for client in all { client.close() }
        unlink(path)
    }

    private func acceptPending() {
        while true {
            let descriptor: FileDescriptor
            do {
                descriptor = try UnixSocket.accept(listener)
            } catch {
                if error != .wouldBlock {
                    // Out of descriptors: the level-triggered source would fire again at once; pause it instead of spinning.
                    logger.warning("control socket accept failed; pausing for 1 s", metadata: ["error": "\(error)"])
                    let paused = source.withLock { $0 }
                    paused?.source.suspend()
                    queue.asyncAfter(deadline: .now() + 1) { paused?.source.resume() }
                }
                return
            }
            let ownUID = getuid()
            guard let peer = try? UnixSocket.peerUID(descriptor), peer == ownUID || peer == 0 else {
                logger.warning("control connection from another user refused")
                try? descriptor.close()
                continue
            }
            let client = Client(server: self, descriptor: descriptor)
            clients.withLock { $0[ObjectIdentifier(client)] = client }
            client.start()
        }
    }

    fileprivate func forget(_ client: Client) {
        _ = clients.withLock { $0.removeValue(forKey: ObjectIdentifier(client)) }
    }

    fileprivate func handle(_ request: ControlRequest, from client: Client) {
        switch request.command {
        case "status":
            client.send(ControlJSON.line(ControlResponse(ok: true, status: runtime.status)))
        case "watch":
            client.send(ControlJSON.line(ControlResponse(ok: true, message: "watching")))
            client.watch(runtime)
        case "sim":
            guard let simulation else {
                client.send(ControlJSON.line(ControlResponse(ok: false, error: "this daemon has no simulated backends")))
                return
            }
            switch simulation.run(request.arguments ?? []) {
            case .success(let message): client.send(ControlJSON.line(ControlResponse(ok: true, message: message)))
            case .failure(let failure): client.send(ControlJSON.line(ControlResponse(ok: false, error: failure.description)))
            }
        default:
            client.send(ControlJSON.line(ControlResponse(ok: false, error: "unknown command \"\(request.command)\" (status, watch, sim)")))
        }
    }

    /// Dispatch sources are thread-safe to cancel; they are only not marked Sendable.
    private struct ReadSourceBox: @unchecked Sendable {
        let source: any DispatchSourceRead
    }

    /// One connected control client.
    fileprivate final class Client: Sendable {
        private struct State {
            var connection: StreamConnection?
            var lines = StreamFramer(LineDecoder(maximumLength: 4096))
            var observer: Int?
            var queued = 0
        }

        private let server: ControlServer
        private let descriptor: FileDescriptor
        private let outbound: DispatchQueue
        private let state = Mutex(State())
        static let maximumQueued = 512

        init(server: ControlServer, descriptor: FileDescriptor) {
            self.server = server
            self.descriptor = descriptor
            outbound = DispatchQueue(label: "alarmd.control.client")
        }

        func start() {
            let connection = StreamConnection(
                descriptor: descriptor, queue: server.queue, sendTimeoutMilliseconds: 2000,
                onBytes: { [self] bytes in received(bytes) },
                onClose: { [self] _ in closed() })
            state.withLock { $0.connection = connection }
            connection.start()
        }

        private func received(_ bytes: [UInt8]) {
            let lines = state.withLock { $0.lines.feed(bytes) }
            for line in lines {
                guard case .line(let text) = line, !text.isEmpty else { continue }
                do {
                    server.handle(try ControlJSON.decode(ControlRequest.self, text), from: self)
                } catch {
                    send(ControlJSON.line(ControlResponse(ok: false, error: "expected one JSON request per line")))
                }
            }
        }

        func watch(_ runtime: DeviceRuntime) {
            guard state.withLock({ $0.observer == nil }) else { return }  // one watch per connection
            let key = runtime.addObserver(replay: true) { [self] record in send(ControlJSON.line(record)) }
            state.withLock { $0.observer = key }
        }

        /// Queued, never blocking the caller (which may be the runtime itself).
        func send(_ bytes: [UInt8]) {
            let accepted = state.withLock { state -> Bool in
                guard state.connection != nil, state.queued < Self.maximumQueued else { return false }
                state.queued += 1
                return true
            }
            guard accepted else {
                close()
                return
            }
            outbound.async { [self] in
                let connection = state.withLock { state -> StreamConnection? in
                    state.queued -= 1
                    return state.connection
                }
                do {
                    try connection?.send(bytes)
                } catch {
                    close()
                }
            }
        }

        func close() {
            let connection = state.withLock { $0.connection }
            connection?.close()
        }

        private func closed() {
            let key = state.withLock { state -> Int? in
                state.connection = nil
                return state.observer
            }
            if let key { server.runtime.removeObserver(key) }
            server.forget(self)
        }
    }
}

/// `alarmctl sim …`: only where simulators are linked (AlarmSimulation's SimControl); the device build has none.
public protocol SimulationCommands: Sendable {
    func run(_ arguments: [String]) -> Result<String, SimulationCommandFailure>
}

public struct SimulationCommandFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What `alarmctl sim …` accepts, for its help (alarmctl forwards the words; alarmd-sim's SimControl acts on them).
public enum SimulationCommandsUsage {
    public static let text = """
        press [HOLD]                 press the button (and release after HOLD, e.g. 2.5s)
        release                      release the button
        button-lost | button-restored   the button's device vanishes / comes back (state read back on return)
        fix LAT LON [ACCURACY]       pin the receiver to a position
        drop-fix | restore-fix       the receiver loses / regains its fix
        network home|roaming|searching|denied|not-registered [emergency]
        outcome answer|busy|no-answer|no-carrier|silence   how the network treats the next call
        answer-after DURATION        how long the far end takes to answer
        drop-call                    the radio link drops the call
        centre-hangup                the centre hangs up (normal clearing)
        ring NUMBER|withheld         an incoming call
        battery PERCENT [charging]
        centre ack|nak|silent        how the in-process centre answers reports (report link "sim:")
        centre-end                   the in-process centre ends the alarm
        modem-hang                   the emulated modem stops answering until power-cycled (modem "pty:sim")
        modem-power-cycle            the emulated modem restarts (says RDY, forgets its settings)
        modem-garbage [COUNT]        noise bytes on the emulated AT line
        modem-urc LINE               a URC inside the emulated modem's next response
        modem-transcript [N]         the last N lines of the emulated modem's AT transcript
        data-drop                    the network tears the data connection down (+CGEV; modem "pty:sim")
        cell gsm|umts|lte            the serving cell's technology (a 2G cell holds data during calls)
        ims on|off                   IMS voice in the emulated modem (off: calls fall back to 2G, data held)
        sms FROM TEXT…               the network delivers an SMS to the emulated modem (e.g. a signed centre command)
        sms-sent                     the SMS the device sent through the emulated network, one per line: NUMBER TEXT
        modem-gnss LAT LON [HDOP] | modem-gnss drop   the emulated modem's own GNSS fix (position "modem:gnss")
        """
}
