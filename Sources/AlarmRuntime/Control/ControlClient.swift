import AlarmCodecs
import Glibc
import PosixIO

/// The client side of the control socket, for `alarmctl`, `alarm-sim` and tests. Blocking, with deadlines.
public final class ControlClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let descriptor: FileDescriptor
    private var lines = StreamFramer(LineDecoder(maximumLength: 1 << 20))
    private var pending: [[UInt8]] = []

    public init(socketPath: String) throws(Failure) {
        do {
            descriptor = try UnixSocket.connect(path: socketPath)
        } catch {
            throw Failure(description: "cannot connect to \(socketPath): \(error) (is alarmd running with this board?)")
        }
    }

    deinit { try? descriptor.close() }

    public func send(_ request: ControlRequest) throws(Failure) {
        do {
            try descriptor.sendAll(ControlJSON.line(request), timeoutMilliseconds: 5000)
        } catch {
            throw Failure(description: "control socket write failed: \(error)")
        }
    }

    /// The next line from the daemon, or nil on timeout.
    public func readLine(timeoutMilliseconds: Int32) throws(Failure) -> [UInt8]? {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(timeoutMilliseconds) * 1_000_000
        while pending.isEmpty {
            let left = (deadline - SystemTime.monotonicNanoseconds()) / 1_000_000
            if timeoutMilliseconds >= 0 && left <= 0 { return nil }
            do {
                let ready = try descriptor.poll(events: Int16(POLLIN), timeoutMilliseconds: timeoutMilliseconds < 0 ? -1 : Int32(left))
                if ready == 0 { continue }
                let bytes = try descriptor.read(upTo: 65536)
                if bytes.isEmpty { throw Failure(description: "the daemon closed the control connection") }
                for case .line(let line) in lines.feed(bytes) { pending.append(line) }
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure(description: "control socket read failed: \(error)")
            }
        }
        return pending.removeFirst()
    }

    public func request(_ request: ControlRequest, timeoutMilliseconds: Int32 = 5000) throws(Failure) -> ControlResponse {
        try send(request)
        guard let line = try readLine(timeoutMilliseconds: timeoutMilliseconds) else {
            throw Failure(description: "no answer from the daemon within \(timeoutMilliseconds) ms")
        }
        do {
            return try ControlJSON.decode(ControlResponse.self, line)
        } catch {
            throw Failure(description: "unreadable answer from the daemon: \(error)")
        }
    }

    /// Starts a watch; then call `nextRecord` repeatedly.
    public func startWatching() throws(Failure) {
        let response = try request(ControlRequest(command: "watch"))
        guard response.ok else { throw Failure(description: response.error ?? "watch refused") }
    }

    public func nextRecord(timeoutMilliseconds: Int32) throws(Failure) -> TimelineRecord? {
        guard let line = try readLine(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        do {
            return try ControlJSON.decode(TimelineRecord.self, line)
        } catch {
            throw Failure(description: "unreadable timeline record: \(error)")
        }
    }
}
