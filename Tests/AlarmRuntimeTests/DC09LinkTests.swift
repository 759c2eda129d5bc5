import AlarmCodecs
import AlarmCore
import DC09
import Dispatch
import Glibc
import HAL
import LinuxBackends
import Logging
import ModemTestSupport
import PosixIO
import SimBackends
import SimCentre
import Testing

/// The DC-09 link against our own receiver: transport faults, clock correction, DUH, failover.
@Suite struct DC09LinkTests {
    static let account = DC09Account(receiver: "1", prefix: "1", account: "B0001")
    static let key = try! DC09Key(text: "00112233445566778899AABBCCDDEEFF", encoding: .binaryHex)

    func receiver(_ policy: DC09Receiver.Policy = .init(), encrypted: Bool = true) throws -> DC09Receiver {
        let receiver = try DC09Receiver(accounts: [Self.account.account: encrypted ? Self.key : nil], policy: policy)
        receiver.start()
        return receiver
    }

    func link(_ endpoints: [DC09Endpoint], encrypted: Bool = true, clock: any Clock = SystemClock(),
              configure: (inout DC09LinkSettings) -> Void = { _ in }) throws -> (DC09ReportLink, Collector<ReportLinkEvent>) {
        var settings = DC09LinkSettings(endpoints: endpoints, composer: DC09Composer(account: Self.account, format: .siaDCS, deviceID: "BE-T-1"),
                                        key: encrypted ? Self.key : nil)
        configure(&settings)
        let link = DC09ReportLink(settings: settings, clock: clock, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let events = Collector<ReportLinkEvent>()
        try link.start { events.append($0) }
        return (link, events)
    }

    func report(_ sequence: Int, _ kind: ReportKind = .alarm) -> Report {
        Report(sequence: sequence, kind: kind, alarmNumber: 1,
               position: Fix(latitude: 50.8466, longitude: 4.3528, horizontalAccuracy: 8,
                             fixTime: WallTime(millisecondsSince1970: DC09ReceiverClock.now())),
               positionAge: .seconds(1), previousPositions: [], cell: nil)
    }

    func outcomes(_ events: Collector<ReportLinkEvent>) -> [(Int, ReportOutcome)] {
        events.all.compactMap { if case .outcome(let s, let o) = $0 { (s, o) } else { nil } }
    }

    func waitFor(_ events: Collector<ReportLinkEvent>, _ sequence: Int, _ outcome: ReportOutcome) -> Bool {
        events.waitUntil { all in all.contains { if case .outcome(sequence, outcome) = $0 { true } else { false } } }
    }

    @Test(arguments: [DC09Endpoint.Transport.tcp, .udp])
    func encryptedReportIsDecodedWithItsPosition(transport: DC09Endpoint.Transport) throws {
        let r = try receiver()
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(transport, host: "127.0.0.1", port: transport == .tcp ? r.tcpPort : r.udpPort)])
        link.send(report(1))
        #expect(waitFor(events, 1, .acknowledged))
        let got = try #require(r.received.first)
        #expect(got.encrypted && got.code == "HA" && got.sequence == 1 && got.account == "B0001")
        #expect(got.latitude == 50.8466 && got.longitude == 4.3528)
        #expect(got.detail["dev"] == "BE-T-1" && got.detail["src"] == "G")
    }

    @Test func silentPrimaryFailsOverToTheSecondary() throws {
        let r = try receiver()
        defer { r.stop() }
        // A port where nothing listens: the connection is refused.
        let dead = try TCP.listen(port: 0)
        let deadPort = dead.port
        try dead.descriptor.close()
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: deadPort),
                                       DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(1))
        #expect(events.waitUntil { all in all.contains { if case .outcome(1, .failed) = $0 { true } else { false } } })
        #expect(link.currentEndpoint.port == r.tcpPort)
        link.send(report(1))  // the core's resend
        #expect(waitFor(events, 1, .acknowledged))
    }

    @Test func unansweredFramesMoveToTheSecondaryAfterTwoTries() throws {
        var silent = DC09Receiver.Policy()
        silent.ignoreFirst = 100
        let mute = try receiver(silent)
        defer { mute.stop() }
        let r = try receiver()
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: mute.tcpPort),
                                       DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(1))
        link.send(report(1))  // the core's timeout resends, same sequence
        link.send(report(1))
        #expect(waitFor(events, 1, .acknowledged))
        #expect(r.received.map(\.sequence) == [1])
    }

    @Test func nakWithTheReceiversClockCorrectsOurTimestamps() throws {
        var skewed = DC09Receiver.Policy()
        skewed.clockOffset = .seconds(120)  // our clock is two minutes behind the receiver's
        let r = try receiver(skewed)
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(7))
        #expect(waitFor(events, 7, .acknowledged))
        #expect(abs(link.clockOffset.milliseconds - 120_000) < 2000)
        #expect(r.received.count == 1)
    }

    @Test func forgedNAKCannotDragTheClockFar() throws {
        var forged = DC09Receiver.Policy()
        forged.forgedNAKTime = DC09ReceiverClock.now() + 3 * 86_400_000
        let r = try receiver(forged)
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(3))
        #expect(waitFor(events, 3, .rejected))
        #expect(link.clockOffset == .zero)
        link.send(report(3))
        #expect(waitFor(events, 3, .acknowledged))
    }

    @Test func duhIsFinalForTheFrame() throws {
        var refusing = DC09Receiver.Policy()
        refusing.refuseFirst = 1
        let r = try receiver(refusing)
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(4))
        #expect(waitFor(events, 4, .refused))
        link.send(report(5, .positionUpdate))
        #expect(waitFor(events, 5, .acknowledged))
        #expect(!outcomes(events).contains { $0.0 == 4 && $0.1 == .acknowledged }, "the link never resends a refused frame by itself")
    }

    /// TCP is stop-and-wait; what must arrive does not queue behind a waiting position update.
    @Test func anAlarmGoesBeforeAWaitingPositionUpdate() throws {
        var lossy = DC09Receiver.Policy()
        lossy.ignoreFirst = 1
        let r = try receiver(lossy)
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(10, .positionUpdate))  // outstanding, unanswered
        link.send(report(11, .positionUpdate))  // waits
        link.send(report(12, .alarm))           // waits, but ahead of 11
        link.send(report(10, .positionUpdate))  // the core's resend: answered now, and the queue moves
        #expect(waitFor(events, 11, .acknowledged))
        let order = r.received.filter { !$0.duplicate }.map(\.sequence)
        let alarm = try #require(order.firstIndex(of: 12)), position = try #require(order.firstIndex(of: 11))
        #expect(alarm < position, "\(order)")
    }

    @Test func lostAckMeansTheSameSequenceAgainAndTheCentreCountsOne() throws {
        var lossy = DC09Receiver.Policy()
        lossy.ignoreFirst = 1
        let r = try receiver(lossy)
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.udp, host: "127.0.0.1", port: r.udpPort)])
        link.send(report(9))
        link.send(report(9))
        #expect(waitFor(events, 9, .acknowledged))
        link.send(report(9))  // a third copy (e.g. after an SMS) is a duplicate at the centre
        #expect(r.received.count >= 1)
        #expect(r.received.filter { !$0.duplicate }.map(\.sequence) == [9])
    }

    @Test func connectionResetBetweenFramesIsSurvived() throws {
        let r = try receiver()
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(1))
        #expect(waitFor(events, 1, .acknowledged), "\(events.all) received \(r.received.count) accepted \(r.acceptedConnections)")
        r.dropConnections()
        #expect(events.waitUntil { all in all.contains { if case .linkDown = $0 { true } else { false } } })
        link.send(report(2, .positionUpdate))
        #expect(waitFor(events, 2, .acknowledged))
        #expect(r.acceptedConnections == 2)
    }

    @Test func connectionResetWhileTheFrameAwaitsItsACKIsResentOnAFreshOne() throws {
        var resetting = DC09Receiver.Policy()
        resetting.resetFirst = 1
        let r = try receiver(resetting)
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)])
        link.send(report(1))
        #expect(events.waitUntil { all in all.contains { if case .linkDown = $0 { true } else { false } } })
        link.send(report(1))  // the core's ACK timeout resends, same sequence
        #expect(waitFor(events, 1, .acknowledged))
        #expect(r.received.filter { !$0.duplicate }.map(\.sequence) == [1], "the centre counts one alarm")
        #expect(r.acceptedConnections == 2)
    }

    @Test func idleConnectionIsNotTrustedWithAnAlarm() throws {
        let r = try receiver()
        defer { r.stop() }
        let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: DC09ReceiverClock.now()))
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: r.tcpPort)], clock: clock) {
            $0.maximumIdle = .seconds(60)
        }
        link.send(report(1))
        #expect(waitFor(events, 1, .acknowledged))
        clock.advance(by: .seconds(61))  // carrier NATs drop flows idle this long without telling anyone
        r.setPolicy { $0.clockOffset = .seconds(61) }  // the receiver's clock moved on as ours did
        link.send(report(2))
        #expect(waitFor(events, 2, .acknowledged))
        #expect(r.acceptedConnections == 2)
    }

    @Test func linkSupervisionSendsNULLOnlyAfterAQuietInterval() throws {
        let received = Collector<DC09Receiver.Received>()
        let r = try DC09Receiver(accounts: [Self.account.account: Self.key]) { received.append($0) }
        r.start()
        defer { r.stop() }
        let clock = ManualClock(wallOrigin: WallTime(millisecondsSince1970: DC09ReceiverClock.now()))
        let (link, events) = try link([DC09Endpoint(.udp, host: "127.0.0.1", port: r.udpPort)], clock: clock) {
            $0.supervisionInterval = .seconds(3600)
        }
        defer { link.stop() }
        clock.advance(by: .seconds(1800))
        r.setPolicy { $0.clockOffset = .seconds(1800) }
        link.send(report(1))  // traffic half-way: the supervision interval starts again
        #expect(waitFor(events, 1, .acknowledged))
        clock.advance(by: .seconds(1900))
        r.setPolicy { $0.clockOffset = .seconds(3700) }
        #expect(!received.waitUntil(seconds: 0.5) { $0.contains { $0.messageType == "NULL" } }, "no NULL 1900 s after a report")
        clock.advance(by: .seconds(1701))
        r.setPolicy { $0.clockOffset = .seconds(5401) }
        #expect(received.waitUntil { $0.contains { $0.messageType == "NULL" && $0.encrypted } })
    }

    /// Someone on the path answers an encrypted alarm with a clear ACK (they cannot make an encrypted one): the link
    /// must not take the alarm as delivered.
    @Test func aForgedClearACKIsIgnoredWhenEncrypting() throws {
        let listener = try TCP.listen(port: 0)
        let held = Collector<FileDescriptor>()
        defer { for connection in held.all { try? connection.close() } }
        DispatchQueue.global().async {
            guard let connection = try? listener.accept() else { return }
            held.append(connection)
            var buffer = [UInt8](repeating: 0, count: 4096)
            var got = 0
            while !buffer[0..<got].contains(0x0D) {
                let n = buffer.withUnsafeMutableBytes { recv(connection.rawValue, $0.baseAddress! + got, 4096 - got, 0) }
                if n <= 0 { return }
                got += n
            }
            let ack = try! DC09Frame.wrap(Array("\"ACK\"0001R1L1#B0001[]".utf8))
            _ = ack.withUnsafeBytes { send(connection.rawValue, $0.baseAddress, $0.count, 0) }
        }
        defer { try? listener.descriptor.close() }
        let (link, events) = try link([DC09Endpoint(.tcp, host: "127.0.0.1", port: listener.port)])
        link.send(report(1))
        #expect(!events.waitUntil(seconds: 1) { all in all.contains { if case .outcome(1, .acknowledged) = $0 { true } else { false } } })
    }

    @Test func clearFramesToAnEncryptedAccountAreNotAccepted() throws {
        let r = try receiver()
        defer { r.stop() }
        let (link, events) = try link([DC09Endpoint(.udp, host: "127.0.0.1", port: r.udpPort)], encrypted: false)
        link.send(report(1))
        link.send(report(2, .positionUpdate))
        #expect(!events.waitUntil(seconds: 1) { all in all.contains { if case .outcome(_, .acknowledged) = $0 { true } else { false } } })
        #expect(r.received.isEmpty)
    }
}

enum DC09ReceiverClock {
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
