import AlarmCodecs
import AlarmCore
import Dispatch
import Glibc
import PosixIO
import Synchronization

/// A receiving centre for simulation: accepts report connections over TCP, acknowledges each frame,
/// shows what it received, and can end the alarm after some position updates, as a dispatcher would.
/// It speaks the interim framing today; the reporting issue turns it into a DC-09 receiver.
public final class SimulatedCentre: Sendable {
    public struct Policy: Sendable {
        /// Answer the first N frames with NAK (the device must resend them).
        public var rejectFirst = 0
        /// Do not answer the first N frames at all (the device's ack timeout must fire).
        public var ignoreFirst = 0
        /// Send "end alarm" once this many position updates of one alarm arrived; nil never.
        public var endAfterUpdates: Int?
        public init() {}
    }

    public struct Received: Sendable, Hashable {
        public var frame: ReportFrame
        public var answer: String
        /// A resend of a sequence already acknowledged (the centre drops it as a duplicate).
        public var duplicate: Bool
    }

    private struct State {
        var policy: Policy
        var frames = 0
        var received: [Received] = []
        var acknowledged: Set<String> = []
        var updates: [Int: Int] = [:]
        var ended: Set<Int> = []
        var connections: [StreamConnection] = []
    }

    public let port: UInt16
    private let listener: TCPListener
    private let queue = DispatchQueue(label: "centre")
    private let state: Mutex<State>
    private let onReceive: @Sendable (Received) -> Void
    private let source = Mutex<SourceBox?>(nil)
    private let listenerClosed = DispatchSemaphore(value: 0)

    public convenience init(host: String = "127.0.0.1", port: UInt16, policy: Policy = Policy(),
                            onReceive: @escaping @Sendable (Received) -> Void = { _ in }) throws(Errno) {
        try self.init(listener: try TCP.listen(host: host, port: port), policy: policy, onReceive: onReceive)
    }

    /// Serves a listener made elsewhere (e.g. inside a test's network namespace).
    public init(listener: TCPListener, policy: Policy = Policy(),
                onReceive: @escaping @Sendable (Received) -> Void = { _ in }) throws(Errno) {
        self.listener = listener
        try listener.descriptor.setNonBlocking()
        self.port = listener.port
        state = Mutex(State(policy: policy))
        self.onReceive = onReceive
    }

    public func start() {
        let readSource = DispatchSource.makeReadSource(fileDescriptor: listener.descriptor.rawValue, queue: queue)
        readSource.setEventHandler { [self] in acceptPending() }
        // Closed only once cancelled (see DC09Receiver.start: an early close lets the number be reused while
        // libdispatch still unregisters it).
        let listening = listener.descriptor
        let closed = listenerClosed
        readSource.setCancelHandler {
            try? listening.close()
            closed.signal()
        }
        source.withLock { $0 = SourceBox(source: readSource) }
        readSource.resume()
    }

    public func stop() {
        let started = source.withLock { box -> Bool in
            defer { box = nil }
            box?.source.cancel()
            return box != nil
        }
        // The port is free only once the cancel handler has closed it (a restart on the same port follows at once).
        if started { _ = listenerClosed.wait(timeout: .now() + 5) }
        let connections = state.withLock { state in
            defer { state.connections.removeAll() }
            return state.connections
        }
        for connection in connections { connection.close() }
        if !started { try? listener.descriptor.close() }
    }

    public var received: [Received] { state.withLock { $0.received } }

    /// Sends "end alarm" to every connected device now.
    public func endAlarm() { broadcast(.command(.endAlarm)) }

    private func acceptPending() {
        while let descriptor = try? listener.accept() {
            // A class, not local Mutexes: the closures below outlive this scope (a noncopyable local captured
            // by an escaping closure is not kept alive — it crashed the centre).
            let context = ConnectionContext()
            let connection = StreamConnection(
                descriptor: descriptor, queue: queue,
                onBytes: { [self] bytes in
                    let frames = context.framer.withLock { $0.feed(bytes) }
                    guard let connection = context.connection.withLock({ $0 }) else { return }
                    for frame in frames { handle(frame, on: connection) }
                },
                onClose: { [self] _ in
                    let closed = context.connection.withLock { $0 }
                    state.withLock { $0.connections.removeAll { $0 === closed } }
                })
            context.connection.withLock { $0 = connection }
            state.withLock { $0.connections.append(connection) }
            connection.start()
        }
    }

    private func handle(_ decoded: Result<ReportFrame, FramingError>, on connection: StreamConnection) {
        guard case .success(let frame) = decoded else { return }  // garbage is dropped, as a receiver would
        let report = frame.report
        let (answer, received, end): (CentreMessage?, Received, Bool) = state.withLock { state in
            state.frames += 1
            let key = "\(frame.deviceID)/\(report.sequence)/\(report.alarmNumber)/\(report.kind.rawValue)"
            let duplicate = state.acknowledged.contains(key)
            var answer: CentreMessage? = .ack(sequence: report.sequence)
            if state.frames <= state.policy.ignoreFirst {
                answer = nil
            } else if state.frames <= state.policy.ignoreFirst + state.policy.rejectFirst {
                answer = .nak(sequence: report.sequence)
            }
            var end = false
            if case .ack = answer, !duplicate {
                state.acknowledged.insert(key)
                if report.kind == .positionUpdate {
                    state.updates[report.alarmNumber, default: 0] += 1
                    if let limit = state.policy.endAfterUpdates, state.updates[report.alarmNumber] == limit,
                       !state.ended.contains(report.alarmNumber) {
                        state.ended.insert(report.alarmNumber)
                        end = true
                    }
                }
            }
            let label = switch answer {
            case .ack?: "ACK"
            case .nak?: "NAK"
            default: "no answer"
            }
            let received = Received(frame: frame, answer: label, duplicate: duplicate)
            state.received.append(received)
            return (answer, received, end)
        }
        onReceive(received)
        if let answer { try? connection.send(InterimFraming.encode(answer)) }
        if end { try? connection.send(InterimFraming.encode(.command(.endAlarm(report.alarmNumber)))) }
    }

    private func broadcast(_ message: CentreMessage) {
        let connections = state.withLock { $0.connections }
        for connection in connections { try? connection.send(InterimFraming.encode(message)) }
    }

    private struct SourceBox: @unchecked Sendable {
        // Dispatch sources are thread-safe to cancel; they are only not marked Sendable.
        let source: any DispatchSourceRead
    }
}

/// Per-connection state shared by a connection's callbacks.
private final class ConnectionContext: Sendable {
    let framer = Mutex(StreamFramer(ReportFrameDecoder()))
    let connection = Mutex<StreamConnection?>(nil)
}
