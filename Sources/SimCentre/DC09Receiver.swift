import AlarmCodecs
import AlarmCore
import DC09
import Dispatch
import Glibc
import PosixIO
import Synchronization

/// A SIA DC-09 receiver for simulation and tests, over TCP and UDP: checks CRC and length (a bad frame gets no
/// answer), decrypts with the account's key, enforces the timestamp window (NAK with the receiver's time outside it),
/// acknowledges by sequence and drops duplicates, and reads positions from the extended data as a dispatcher
/// would want them.
public final class DC09Receiver: Sendable {
    public struct Policy: Sendable {
        /// Do not answer the first N frames at all.
        public var ignoreFirst = 0
        /// Answer the first N frames with DUH.
        public var refuseFirst = 0
        /// The receiver's clock runs this far from the machine's (a device clock that is off, seen from here).
        public var clockOffset: Duration = .zero
        /// Accepted timestamps: this far in the past …
        public var windowPast: Duration = .seconds(40)
        /// … to this far in the future.
        public var windowFuture: Duration = .seconds(20)
        /// Send a NAK claiming this time (UTC ms) instead of answering the next frame: a forged NAK.
        public var forgedNAKTime: Int64?
        /// Reset the TCP connection instead of answering the next N frames (the frame arrived, the ACK never will).
        public var resetFirst = 0
        /// The receiver's clock (UTC ms) instead of the machine's, so tests can run minutes in milliseconds
        /// (`clockOffset` is added to it).
        public var now: (@Sendable () -> Int64)?
        /// NAK every frame with a time `farOffNAKClaim` away from ours until our clock (UTC ms) reaches this; then
        /// answer normally.
        public var farOffNAKUntil: Int64?
        public var farOffNAKClaim: Duration = .seconds(86_400)
        /// Answer as someone on the path would who wants an undelivered alarm to look delivered (tests of the
        /// device's ACK check).
        public var forgery: Forgery?
        public init() {}
    }

    /// Forged answers.
    public enum Forgery: Sendable, Hashable {
        /// Each frame sent back with its clear id changed to `*ACK` and CRC and length recomputed (needs no key).
        case reflect
        /// The first frame gets a genuine ACK, captured; every later frame gets that ACK relabelled with its own
        /// sequence (CRC recomputed; needs no key once captured).
        case replayFirstACK
        /// A genuine ACK (our key, the right sequence) dated this long ago, as a captured old ACK would be.
        case staleACK(age: Duration)
    }

    /// Every answer the receiver gave (or forged), in order, with its clock's time.
    public struct Answer: Sendable, Hashable {
        public var at: Int64
        public var sequence: Int
        public var messageType: String
        public var answer: String
    }

    public struct Received: Sendable, Hashable {
        public var account: String
        public var sequence: Int
        public var messageType: String
        public var encrypted: Bool
        /// SIA code (or the SIA equivalent of the Contact ID event).
        public var code: String
        public var latitude: Double?
        public var longitude: Double?
        /// The detail block's key=value pairs.
        public var detail: [String: String]
        public var answer: String
        public var duplicate: Bool
        public var transport: String
    }

    public enum Transport: String, Sendable { case tcp, udp }

    struct State {
        var policy: Policy
        var frames = 0
        var received: [Received] = []
        var acknowledged: Set<String> = []
        var connections: [StreamConnection] = []
        var accepted = 0
        var answers: [Answer] = []
        var capturedACK: [UInt8]?
    }

    public let tcpPort: UInt16
    public let udpPort: UInt16
    let listener: TCPListener
    let udp: FileDescriptor
    let keys: [String: DC09Key?]
    let queue = DispatchQueue(label: "dc09-receiver")
    let state: Mutex<State>
    let onReceive: @Sendable (Received) -> Void
    let sources = Mutex<[SourceHolder]>([])
    let closedSignal = DispatchSemaphore(value: 0)

    /// `accounts`: account → key (nil: that account sends in clear).
    public init(host: String = "127.0.0.1", tcpPort: UInt16 = 0, udpPort: UInt16 = 0, accounts: [String: DC09Key?],
                policy: Policy = Policy(), onReceive: @escaping @Sendable (Received) -> Void = { _ in }) throws(Errno) {
        listener = try TCP.listen(host: host, port: tcpPort)
        try listener.descriptor.setNonBlocking()
        let (socket, boundPort) = try UDP.bind(host: host, port: udpPort)
        udp = socket
        self.udpPort = boundPort
        try udp.setNonBlocking()
        self.tcpPort = listener.port
        keys = accounts
        state = Mutex(State(policy: policy))
        self.onReceive = onReceive
    }

    public func start() {
        let accept = DispatchSource.makeReadSource(fileDescriptor: listener.descriptor.rawValue, queue: queue)
        accept.setEventHandler { [self] in acceptPending() }
        // Closed only once the source is cancelled: closing earlier lets the number be reused by another socket
        // while libdispatch still unregisters the old one, and the new socket silently stops being watched.
        let listening = listener.descriptor
        let closed = closedSignal
        accept.setCancelHandler {
            try? listening.close()
            closed.signal()
        }
        let datagrams = DispatchSource.makeReadSource(fileDescriptor: udp.rawValue, queue: queue)
        datagrams.setEventHandler { [self] in readDatagrams() }
        let socket = udp
        datagrams.setCancelHandler { try? socket.close() }
        sources.withLock { $0 = [SourceHolder(source: accept), SourceHolder(source: datagrams)] }
        accept.resume()
        datagrams.resume()
    }

    public func stop() {
        let held = sources.withLock { s -> [SourceHolder] in
            defer { s = [] }
            return s
        }
        for holder in held { holder.source.cancel() }
        // The port is free only once the cancel handler has closed it.
        if !held.isEmpty { _ = closedSignal.wait(timeout: .now() + 5) }
        if held.isEmpty {
            try? listener.descriptor.close()
            try? udp.close()
        }
        let connections = state.withLock { s -> [StreamConnection] in
            defer { s.connections.removeAll() }
            return s.connections
        }
        for connection in connections { connection.close() }
    }

    public var received: [Received] { state.withLock { $0.received } }
    public var answers: [Answer] { state.withLock { $0.answers } }
    public func setPolicy(_ change: (inout Policy) -> Void) { state.withLock { change(&$0.policy) } }

    /// Closes every TCP connection now (a receiver restart, a reset mid-stream).
    public func dropConnections() {
        let connections = state.withLock { s -> [StreamConnection] in
            defer { s.connections.removeAll() }
            return s.connections
        }
        for connection in connections { connection.close() }
    }

    func acceptPending() {
        while let descriptor = try? listener.accept() {
            let context = ReceiverConnection()
            let connection = StreamConnection(
                descriptor: descriptor, queue: queue,
                onBytes: { [self] bytes in
                    let items = context.framer.withLock { $0.feed(bytes) }
                    guard let connection = context.connection.withLock({ $0 }) else { return }
                    for case .frame(let frame) in items {
                        let reset = state.withLock { s -> Bool in
                            guard s.policy.resetFirst > 0 else { return false }
                            s.policy.resetFirst -= 1
                            return true
                        }
                        if reset {
                            connection.close()
                            return
                        }
                        if let answer = handle(frame, transport: .tcp) { try? connection.send(answer) }
                    }
                },
                onClose: { [self] _ in
                    let closed = context.connection.withLock { $0 }
                    state.withLock { $0.connections.removeAll { $0 === closed } }
                })
            context.connection.withLock { $0 = connection }
            state.withLock { $0.connections.append(connection); $0.accepted += 1 }
            connection.start()
        }
    }

    /// TCP connections accepted so far.
    public var acceptedConnections: Int { state.withLock { $0.accepted } }

    func readDatagrams() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &peer) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(udp.rawValue, raw.baseAddress, raw.count, 0, $0, &length)
                    }
                }
            }
            guard count > 0 else { return }
            var framer = StreamFramer(DC09FrameDecoder())
            for case .frame(let frame) in framer.feed(buffer[0..<count]) {
                guard let answer = handle(frame, transport: .udp) else { continue }
                _ = answer.withUnsafeBytes { raw in
                    withUnsafePointer(to: &peer) { pointer in
                        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(udp.rawValue, raw.baseAddress, raw.count, 0, $0, length)
                        }
                    }
                }
            }
        }
    }

    /// One frame in, the answer frame out (nil: no answer).
    func handle(_ frame: [UInt8], transport: Transport) -> [UInt8]? {
        guard let body = try? DC09Frame.unwrap(frame) else { return nil }  // CRC or length wrong: silence
        let text = String(decoding: body, as: UTF8.self)
        let now = state.withLock { s in
            WallTime(millisecondsSince1970: (s.policy.now?() ?? Self.wallMilliseconds()) + s.policy.clockOffset.milliseconds)
        }
        if let forged = forge(body, now: now) { return forged }
        guard let message = parse(text) else { return nil }
        if let answer = hostileAnswer(message, now: now) { return answer }
        enum Verdict { case ack, nak(WallTime), duh, silent }
        let (verdict, received) = state.withLock { s -> (Verdict, Received?) in
            s.frames += 1
            if s.frames <= s.policy.ignoreFirst { return (.silent, nil) }
            if let forged = s.policy.forgedNAKTime {
                s.policy.forgedNAKTime = nil
                return (.nak(WallTime(millisecondsSince1970: forged)), nil)
            }
            if s.frames <= s.policy.ignoreFirst + s.policy.refuseFirst { return (.duh, nil) }
            if message.kind != "NULL" {
                guard let stamp = message.timestamp,
                      stamp.millisecondsSince1970 >= now.millisecondsSince1970 - s.policy.windowPast.milliseconds,
                      stamp.millisecondsSince1970 <= now.millisecondsSince1970 + s.policy.windowFuture.milliseconds else {
                    return (.nak(now), nil)
                }
            }
            let key = "\(message.account)/\(message.sequence)"
            let duplicate = s.acknowledged.contains(key)
            s.acknowledged.insert(key)
            var received = message.received
            received.answer = "ACK"
            received.duplicate = duplicate
            received.transport = transport.rawValue
            s.received.append(received)
            return (.ack, received)
        }
        if let received { onReceive(received) }
        let answerName: String? = switch verdict {
        case .silent: nil
        case .ack: "ACK"
        case .duh: "DUH"
        case .nak: "NAK"
        }
        if let answerName { log(message, answerName, at: now) }
        switch verdict {
        case .silent: return nil
        case .ack:
            let answer = ack(message, at: now)
            state.withLock { s in
                if s.policy.forgery == .replayFirstACK, s.capturedACK == nil { s.capturedACK = answer }
            }
            return answer
        case .duh:
            return try? DC09Frame.wrap(Array("\"DUH\"\(four(message.sequence))R0L0#\(message.account)[]".utf8))
        case .nak(let time):
            return nakFrame(time)
        }
    }

    func nakFrame(_ time: WallTime) -> [UInt8]? {
        try? DC09Frame.wrap(Array("\"NAK\"0000R0L0A0[]\(DC09Timestamp.format(time))".utf8))
    }

    func log(_ message: Parsed, _ answer: String, at now: WallTime) {
        state.withLock { $0.answers.append(Answer(at: now.millisecondsSince1970, sequence: message.sequence, messageType: message.kind, answer: answer)) }
    }

    /// A genuine ACK for `message`, stamped `time`. An encrypted message gets an encrypted ACK: the device trusts no
    /// ACK its key did not make.
    func ack(_ message: Parsed, at time: WallTime) -> [UInt8]? {
        if message.encrypted, let key = keys[message.account] ?? nil {
            let head = "\"*ACK\"\(four(message.sequence))\(message.receiverField)L\(message.prefix)#\(message.account)["
            var random = SystemRandomNumberGenerator()
            guard let tail = try? DC09Cipher.encryptedTail("]" + DC09Timestamp.format(time), key: key, using: &random) else { return nil }
            return try? DC09Frame.wrap(Array(head.utf8) + tail)
        }
        let ack = "\"ACK\"\(four(message.sequence))\(message.receiverField)L\(message.prefix)#\(message.account)[]"
        return try? DC09Frame.wrap(Array(ack.utf8))
    }

    /// The reflection forgery, which needs no key: the device's own body with `*ACK` for its id.
    func forge(_ body: [UInt8], now: WallTime) -> [UInt8]? {
        guard state.withLock({ $0.policy.forgery }) == .reflect,
              let close = body.dropFirst().firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        let rest = Array(body[(close + 1)...])
        let sequence = Int(String(decoding: rest.prefix(4), as: UTF8.self)) ?? 0
        let id = String(decoding: body[1..<close], as: UTF8.self)
        state.withLock { $0.answers.append(Answer(at: now.millisecondsSince1970, sequence: sequence, messageType: id, answer: "reflected")) }
        return try? DC09Frame.wrap(Array("\"*ACK\"".utf8) + rest)
    }

    /// The far-off NAK phase, and the forgeries that start from a genuine ACK.
    func hostileAnswer(_ message: Parsed, now: WallTime) -> [UInt8]? {
        let (until, claim, forgery, captured) = state.withLock { s in
            (s.policy.farOffNAKUntil, s.policy.farOffNAKClaim, s.policy.forgery, s.capturedACK)
        }
        if let until, now.millisecondsSince1970 < until {
            log(message, "NAK far off", at: now)
            return nakFrame(WallTime(millisecondsSince1970: now.millisecondsSince1970 + claim.milliseconds))
        }
        switch forgery {
        case .replayFirstACK?:
            if let captured {
                log(message, "replayed ACK", at: now)
                // "*ACK"SEQ…: the four digits after the id take this frame's sequence.
                var body = (try? DC09Frame.unwrap(captured)) ?? []
                let digits = Array(four(message.sequence).utf8)
                guard body.count > 10 else { return nil }
                body.replaceSubrange(6..<10, with: digits)
                return try? DC09Frame.wrap(body)
            }
            return nil  // the first frame: answered genuinely below, and captured there
        case .staleACK(let age)?:
            log(message, "stale ACK", at: now)
            return ack(message, at: WallTime(millisecondsSince1970: now.millisecondsSince1970 - age.milliseconds))
        default:
            return nil
        }
    }

    struct Parsed {
        var kind: String
        var encrypted: Bool
        var sequence: Int
        var receiverField: String
        var prefix: String
        var account: String
        var timestamp: WallTime?
        var received: Received
    }

    /// `"ID"SEQ[Rr]Lp#acct[…]…`, decrypting the tail with the account's key when the id is starred.
    func parse(_ text: String) -> Parsed? {
        guard text.first == "\"", let close = text.dropFirst().firstIndex(of: "\"") else { return nil }
        var id = String(text[text.index(after: text.startIndex)..<close])
        let encrypted = id.first == "*"
        if encrypted { id.removeFirst() }
        var rest = text[text.index(after: close)...]
        let digits = rest.prefix(4)
        guard digits.count == 4, let sequence = Int(digits) else { return nil }
        rest = rest.dropFirst(4)
        guard let open = rest.firstIndex(of: "[") else { return nil }
        let header = rest[..<open]
        guard let hash = header.firstIndex(of: "#"), let l = header.firstIndex(of: "L") else { return nil }
        let receiverField = String(header[..<l])
        let prefix = String(header[header.index(after: l)..<hash])
        let account = String(header[header.index(after: hash)...])
        var tail = String(rest[rest.index(after: open)...])
        if encrypted {
            guard let key = keys[account] ?? nil, let plain = try? DC09Cipher.decryptTail(hex: tail, key: key) else { return nil }
            tail = plain
        } else if !keys.keys.contains(account) || (keys[account] ?? nil) != nil {
            return nil  // an unknown account, or clear text on an account that must encrypt: ignored
        }
        // tail: data]…[block]…_timestamp
        var timestamp: WallTime?
        if let underscore = tail.lastIndex(of: "_"), tail[underscore...].count == 20 {
            timestamp = DC09Timestamp.parse(tail[underscore...])
            tail = String(tail[..<underscore])
        }
        let blocks = tail.split(separator: "]", omittingEmptySubsequences: false).map { $0.hasPrefix("[") ? $0.dropFirst() : $0 }
        let data = blocks.first.map(String.init) ?? ""
        var latitude: Double?
        var longitude: Double?
        var detail: [String: String] = [:]
        for block in blocks.dropFirst() {
            switch block.first {
            case "X": longitude = Double(block.dropFirst())
            case "Y": latitude = Double(block.dropFirst())
            case "I":
                for pair in block.dropFirst().split(separator: ";") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { detail[String(parts[0])] = String(parts[1]) }
                }
            default: break
            }
        }
        let code = Self.code(of: data, kind: id)
        let received = Received(account: account, sequence: sequence, messageType: id, encrypted: encrypted, code: code,
                                latitude: latitude, longitude: longitude, detail: detail, answer: "", duplicate: false,
                                transport: "")
        return Parsed(kind: id, encrypted: encrypted, sequence: sequence, receiverField: receiverField, prefix: prefix,
                      account: account, timestamp: timestamp, received: received)
    }

    /// The SIA code of a data block: `#acct|Nri1/HA` → HA; Contact ID `#acct|1122 01 003` → HA (122 new), HH (restore) ….
    static func code(of data: String, kind: String) -> String {
        guard let bar = data.firstIndex(of: "|") else { return kind == "NULL" ? "NULL" : "" }
        let event = data[data.index(after: bar)...]
        if kind == "ADM-CID" {
            let contactID: [String: String] = ["1122": "HA", "3122": "HH", "1406": "OC", "1101": "QA", "1602": "RP",
                                               "1302": "YT", "3302": "YR", "1311": "YM",
                                               "1350": "YC", "3350": "YK", "1380": "YX", "3380": "YZ",
                                               "1300": "YX", "3300": "YZ", "1330": "YX", "3330": "YZ"]
            return contactID[String(event.prefix(4))] ?? "YN"
        }
        return String(event.suffix(2))
    }

    func four(_ n: Int) -> String {
        let text = String(n)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }

    static func wallMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    struct SourceHolder: @unchecked Sendable {
        // Dispatch sources are thread-safe to cancel; they are only not marked Sendable.
        let source: any DispatchSourceRead
    }
}

private final class ReceiverConnection: Sendable {
    let framer = Mutex(StreamFramer(DC09FrameDecoder()))
    let connection = Mutex<StreamConnection?>(nil)
}
