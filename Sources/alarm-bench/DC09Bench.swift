import AlarmCodecs
import AlarmCore
import AlarmRuntime
import BenchHarness
import DC09
import Dispatch
import HAL
import LinuxBackends
import Logging
import PosixIO
import SimBackends
import SimCentre
import Synchronization

extension AlarmBench {
    /// Trigger → first DC-09 frame in the socket, and trigger → ACK from our loopback receiver, AES-128 included:
    /// the real runtime, core, composer, cipher and link; a fresh device per alarm.
    func dc09Cases(_ harness: inout BenchmarkHarness, iterations: Int) throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let key = try DC09Key(text: "0123456789ABCDEF", encoding: .asciiHex)
        let receiver = try DC09Receiver(accounts: ["B1": key])
        receiver.start()
        defer { receiver.stop() }
        let account = DC09Account(receiver: "1", prefix: "1", account: "B1")

        func alarm(_ measure: @escaping @Sendable (Int64, Int64) -> Int64) throws -> Int64 {
            let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: SystemTime.wallMilliseconds()))
            let marks = StampProbe()
            var settings = DC09LinkSettings(endpoints: [DC09Endpoint(.tcp, host: "127.0.0.1", port: receiver.tcpPort)],
                                            composer: DC09Composer(account: account, format: .siaDCS, deviceID: "BENCH"), key: key)
            settings.supervisionInterval = nil
            settings.frameWritten = { _ in marks.stamp("frame") }
            let link = DC09ReportLink(settings: settings, clock: clock, logger: logger)
            defer { link.stop() }
            var alarmSettings = AlarmSettings()
            alarmSettings.centreNumbers = ["+3292000101"]
            let backends = Backends(button: SimButton(clock: clock),
                                    position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                    network: SimModem(clock: clock), calls: SimModem(clock: clock), sms: SimModem(clock: clock),
                                    reportLink: link, store: InMemoryRecordStore())
            let runtime = DeviceRuntime(machine: AlarmMachine(settings: alarmSettings),
                                        identity: .init(deviceID: "BENCH", boardName: "bench"), clock: clock,
                                        backends: backends, silence: .noSpeaker, logger: logger)
            _ = runtime.addObserver { record in if record.category == .reportAck { marks.stamp("ack") } }
            try runtime.start()
            runtime.post(.button(.pressed))
            clock.advance(by: .milliseconds(1999))
            let start = SystemTime.monotonicNanoseconds()
            clock.advance(by: .milliseconds(1))
            guard let frame = marks.wait(for: "frame"), let ack = marks.wait(for: "ack") else { return Int64.max / 2 }
            return measure(frame - start, ack - start)
        }

        let frame = try DC09FrameSize.alarm(account: account, key: key)
        try harness.run("dc09.trigger-to-first-frame",
                        definition: "in-process part: hold timer fires → first DC-09 frame (AES-128, SIA-DCS with position) written to the TCP socket",
                        iterations: iterations, goal: .atMost(2000, "p99 ≤ 2 ms (issue 6)"),
                        limit: .uart(bytes: frame, "the alarm frame over PPP on the modem's UART (TCP/IP headers and the "
                                     + "connection's set-up not counted)")) { try alarm { frame, _ in frame } }
        try harness.run("dc09.trigger-to-ack-loopback",
                        definition: "in-process part: hold timer fires → the receiver's ACK for that frame processed by the core (loopback TCP, a new connection per alarm)",
                        iterations: iterations, goal: .atMost(10_000, "p99 ≤ 10 ms (issue 6)")) { try alarm { _, ack in ack } }
        harness.setLimit(.uart(bytes: try frame + DC09FrameSize.ack(account: account, key: key), "the alarm frame out and the receiver's ACK back over PPP on "
                               + "the modem's UART (plus the radio round trip, not measurable here)"), for: "dc09.trigger-to-ack-loopback")
    }
}

/// First time each named mark was hit, and a bounded wait for it.
final class StampProbe: Sendable {
    private let marks = Mutex<[String: Int64]>([:])
    private let signal = DispatchSemaphore(value: 0)
    func stamp(_ name: String) {
        let now = SystemTime.monotonicNanoseconds()
        marks.withLock { if $0[name] == nil { $0[name] = now } }
        signal.signal()
    }
    func wait(for name: String) -> Int64? {
        while true {
            if let at = marks.withLock({ $0[name] }) { return at }
            if signal.wait(timeout: .now() + 5) == .timedOut { return nil }
        }
    }
}

/// The bytes of a DC-09 frame as the link builds it (composer, AES-128-CBC, framing), for the wire-time limit.
enum DC09FrameSize {
    static func alarm(account: DC09Account, key: DC09Key?) throws -> Int {
        try frame(Report(sequence: 1, kind: .alarm, alarmNumber: 1,
                         position: Fix(latitude: 51.05, longitude: 3.72, horizontalAccuracy: 6, fixTime: WallTime(millisecondsSince1970: 0)),
                         positionAge: .zero, previousPositions: [], cell: nil), account: account, key: key)
    }

    /// The receiver's encrypted ACK, built as SimCentre's receiver builds it.
    static func ack(account: DC09Account, key: DC09Key) throws -> Int {
        let head = "\"*ACK\"0001R\(account.receiver ?? "0")L\(account.prefix)#\(account.account)["
        var random = SystemRandomNumberGenerator()
        let now = WallTime(millisecondsSince1970: SystemTime.wallMilliseconds())
        return try DC09Frame.wrap(Array(head.utf8) + DC09Cipher.encryptedTail("]" + DC09Timestamp.format(now), key: key, using: &random)).count
    }

    static func frame(_ report: Report, account: DC09Account, key: DC09Key?) throws -> Int {
        let composer = DC09Composer(account: account, format: .siaDCS, deviceID: "BENCH")
        let message = composer.message(for: report, now: WallTime(millisecondsSince1970: SystemTime.wallMilliseconds()))
        guard let key else { return try DC09Frame.wrap(message.body).count }
        var random = SystemRandomNumberGenerator()
        return try DC09Frame.wrap(DC09Cipher.encryptedBody(message, key: key, using: &random)).count
    }
}
