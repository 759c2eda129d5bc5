import AlarmCodecs
import AlarmCore
import DC09
import Dispatch
import FoundationEssentials
import Glibc
import HAL
import LinuxBackends
import Logging
import ModemTestSupport
import PosixIO
import SimBackends
import Synchronization
import Testing

/// pysiaalarm, an independent DC-09 receiver, on a loopback port; it reports every event it decodes as a JSON line
/// over a Unix socket, so the test waits on events, never on time.
final class SIAPeer: Sendable {
    struct Event: Sendable, Decodable {
        var type: String
        var port: Int?
        var valid: Bool?
        var message_type: String?
        var encrypted: Bool?
        var account: String?
        var sequence: String?
        var code: String?
        var extended: [String: String]?
    }

    static let counter = Mutex(0)
    let child: ChildProcess
    let connection: StreamConnection
    let events: Collector<Event>
    let port: UInt16
    let socketPath: String

    init(protocol transport: String, account: String, key: String?) throws {
        let root = BoardFileTests.repository
        let python = root + "/.venv/bin/python3"
        guard access(python, X_OK) == 0 else { throw LineFailure("run `make test` (it creates .venv with pysiaalarm)") }
        let n = Self.counter.withLock { $0 += 1; return $0 }
        socketPath = "/tmp/sia-peer-\(getpid())-\(n).sock"
        unlink(socketPath)
        let listener = try UnixSocket.listen(path: socketPath)
        defer { try? listener.close() }
        var arguments = [root + "/Tests/Interop/sia_receiver.py", "--report", socketPath, "--protocol", transport, "--account", account]
        if let key { arguments += ["--key", key] }
        child = try ChildProcess.spawn(python, arguments)
        var poller = pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 20_000) == 1 else {
            _ = child.stop()
            throw LineFailure("pysiaalarm did not connect back within 20 s (is it installed in .venv?)")
        }
        let accepted = try UnixSocket.accept(listener)
        let events = Collector<Event>()
        self.events = events
        let framer = Mutex(StreamFramer(LineDecoder()))
        connection = StreamConnection(descriptor: accepted, queue: DispatchQueue(label: "sia-peer"), sendTimeoutMilliseconds: 1000,
                                      onBytes: { bytes in
                                          for line in framer.withLock({ $0.feed(bytes) }) {
                                              guard case .line(let text) = line,
                                                    let event = try? JSONDecoder().decode(Event.self, from: Data(text)) else { continue }
                                              events.append(event)
                                          }
                                      }, onClose: { _ in })
        connection.start()
        guard events.waitUntil(seconds: 20, { $0.contains { $0.type == "ready" } }),
              let port = events.all.first(where: { $0.type == "ready" })?.port else {
            _ = child.stop()
            throw LineFailure("pysiaalarm never said it was listening")
        }
        self.port = UInt16(port)
    }

    func stop() {
        _ = child.stop()
        connection.close()
        unlink(socketPath)
    }

    var decoded: [Event] { events.all.filter { $0.type == "event" } }
}

@Suite(.serialized) struct SIAInteropTests {
    static let account = DC09Account(receiver: "1", prefix: "1", account: "A1234")
    static let keyText = "0123456789ABCDEF"  // 16 hex characters: AES-128 in pysiaalarm's (ASCII) convention

    let fix: Fix = {
        var fix = Fix(latitude: 51.054300, longitude: 3.717400, horizontalAccuracy: 6,
                      fixTime: WallTime(millisecondsSince1970: (Int64(time(nil)) - 2) * 1000))
        fix.altitude = 9.5
        return fix
    }()

    func reports() -> [Report] {
        [ReportKind.alarm, .positionUpdate, .cancelRequested, .emergencyCallPlaced, .trackingEnded,
         .periodicTest, .batteryLow, .batteryRestored, .batteryCritical, .modemTrouble, .modemRestored,
         .gnssTrouble, .gnssRestored, .buttonTrouble, .buttonRestored, .provisioningTamper].enumerated().map { index, kind in
            Report(sequence: index + 1, kind: kind, alarmNumber: 1, position: fix, positionAge: .seconds(2), previousPositions: [],
                   cell: CellInfo(mcc: 206, mnc: 1, areaCode: 0x3E9, cellID: 0x1A2B3C, accessTechnology: "LTE"))
        }
    }

    func run(transport: DC09Endpoint.Transport, encrypted: Bool, format: DC09Format) throws {
        let peer = try SIAPeer(protocol: transport.rawValue, account: Self.account.account, key: encrypted ? Self.keyText : nil)
        defer { peer.stop() }
        var settings = DC09LinkSettings(endpoints: [DC09Endpoint(transport, host: "127.0.0.1", port: peer.port)],
                                        composer: DC09Composer(account: Self.account, format: format, deviceID: "BE-IOP-1"),
                                        key: encrypted ? try DC09Key(text: Self.keyText, encoding: .asciiHex) : nil)
        settings.connectTimeout = .seconds(5)
        let link = DC09ReportLink(settings: settings, clock: SystemClock(),
                                  logger: Logger(label: "interop", factory: { _ in SwiftLogNoOpLogHandler() }))
        let outcomes = Collector<ReportLinkEvent>()
        try link.start { outcomes.append($0) }
        let reports = reports()
        for report in reports { link.send(report) }
        let acknowledged = outcomes.waitUntil(seconds: 10) { events in
            Set(events.compactMap { if case .outcome(let s, .acknowledged) = $0 { s } else { nil } }).count == reports.count
        }
        #expect(acknowledged, "pysiaalarm acknowledged: \(outcomes.all)")
        // Its encrypted ACKs (a pad of 0s, no "|", a [K…] block) pass the strict check: none was ignored.
        #expect(link.rejectedACKs.isEmpty, "\(link.rejectedACKs)")
        #expect(peer.events.waitUntil(seconds: 5) { $0.filter { $0.type == "event" }.count >= reports.count })

        let expectedCodes: [ReportKind: (sia: String, cid: String)] = [
            .alarm: ("HA", "HA"), .positionUpdate: ("HS", "HS"), .cancelRequested: ("OC", "OC"),
            .emergencyCallPlaced: ("QA", "QA"), .trackingEnded: ("HH", "HH"), .periodicTest: ("RP", "RP"),
            .batteryLow: ("YT", "YT"), .batteryRestored: ("YR", "YR"), .batteryCritical: ("YM", "YM"),
            .modemTrouble: ("YC", "YC"), .modemRestored: ("YK", "YK"), .gnssTrouble: ("YX", "YX"), .gnssRestored: ("YZ", "YZ"),
            .buttonTrouble: ("YX", "YX"), .buttonRestored: ("YZ", "YZ"), .provisioningTamper: ("TA", "TA"),
        ]
        for report in reports {
            let seq = String(repeating: "0", count: 4 - String(report.sequence).count) + String(report.sequence)
            guard let event = peer.decoded.first(where: { $0.sequence == seq }) else {
                Issue.record("pysiaalarm never decoded #\(seq) (\(report.kind))")
                continue
            }
            #expect(event.valid == true, "#\(seq) not valid for pysiaalarm")
            #expect(event.account == Self.account.account)
            #expect(event.encrypted == encrypted)
            let codes = expectedCodes[report.kind]!
            #expect(event.code == (format == .siaDCS ? codes.sia : codes.cid), "#\(seq) \(report.kind)")
            let positioned = format == .siaDCS || report.kind == .positionUpdate
            if positioned {
                #expect(event.message_type == "SIA-DCS")
                #expect(event.extended?["Y"].flatMap(Double.init) == 51.0543, "#\(seq) latitude")
                #expect(event.extended?["X"].flatMap(Double.init) == 3.7174, "#\(seq) longitude")
                #expect(event.extended?["I"]?.contains("dev=BE-IOP-1;alarm=1") == true)
            } else {
                #expect(event.message_type == "ADM-CID")
            }
        }
    }

    @Test func tcpClear() throws { try run(transport: .tcp, encrypted: false, format: .siaDCS) }
    @Test func tcpEncrypted() throws { try run(transport: .tcp, encrypted: true, format: .siaDCS) }
    @Test func udpClear() throws { try run(transport: .udp, encrypted: false, format: .siaDCS) }
    @Test func udpEncrypted() throws { try run(transport: .udp, encrypted: true, format: .siaDCS) }
    @Test func contactIDOverTCPEncrypted() throws { try run(transport: .tcp, encrypted: true, format: .contactID) }
    @Test func contactIDOverUDP() throws { try run(transport: .udp, encrypted: false, format: .contactID) }
}
