import ModemTestSupport
import AlarmCodecs
import AlarmCore
import HAL
import LinuxBackends
import Logging
import PosixIO
import SimCentre
import Testing

/// The TCP report link against the simulated centre over real loopback sockets.
@Suite struct ReportLinkTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func report(_ sequence: Int, _ kind: ReportKind = .alarm) -> Report {
        Report(sequence: sequence, kind: kind, alarmNumber: 1,
               position: Fix(latitude: 51.05, longitude: 3.72, horizontalAccuracy: 6, fixTime: WallTime(millisecondsSince1970: 1)),
               positionAge: .milliseconds(300), previousPositions: [], cell: nil)
    }

    func link(port: UInt16, maximumIdle: Duration = .seconds(60), unansweredLimit: Duration = .seconds(10),
              acceptsCommands: Bool = true) throws -> (TCPReportLink, Collector<ReportLinkEvent>) {
        let events = Collector<ReportLinkEvent>()
        let link = TCPReportLink(host: "127.0.0.1", port: port, deviceID: "BE-TEST-1", clock: SystemClock(),
                                 logger: logger, maximumIdle: maximumIdle, unansweredLimit: unansweredLimit,
                                 acceptsCommands: acceptsCommands)
        try link.start { events.append($0) }
        return (link, events)
    }

    @Test func acknowledgedByTheCentre() throws {
        let received = Collector<SimulatedCentre.Received>()
        let centre = try SimulatedCentre(port: 0) { received.append($0) }
        centre.start()
        defer { centre.stop() }
        let (link, events) = try link(port: centre.port)
        link.send(report(7))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 7, .acknowledged)) })
        #expect(events.all.first == .linkUp)
        let frame = try #require(received.all.first?.frame)
        #expect(frame.deviceID == "BE-TEST-1")
        #expect(frame.report == report(7))
    }

    @Test func nakAndCommandsArrive() throws {
        var policy = SimulatedCentre.Policy()
        policy.rejectFirst = 1
        policy.endAfterUpdates = 1
        let centre = try SimulatedCentre(port: 0, policy: policy)
        centre.start()
        defer { centre.stop() }
        let (link, events) = try link(port: centre.port)
        link.send(report(1))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 1, .rejected)) })
        link.send(report(1))
        link.send(report(2, .positionUpdate))
        #expect(events.waitUntil { $0.contains(.command(.endAlarm(1))) })
        #expect(events.all.contains(.outcome(sequence: 1, .acknowledged)))
        #expect(events.all.contains(.outcome(sequence: 2, .acknowledged)))
    }

    @Test func refusedConnectionIsAFailedOutcomeNotAHang() throws {
        // Take a free port and close it again, so nobody listens there.
        let listener = try TCP.listen(port: 0)
        let port = listener.port
        try listener.descriptor.close()
        let (link, events) = try link(port: port)
        link.send(report(3))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 3, .failed(.rejected))) })
    }

    @Test func idleConnectionIsReplacedBeforeSending() throws {
        let centre = try SimulatedCentre(port: 0)
        centre.start()
        defer { centre.stop() }
        let (link, events) = try link(port: centre.port, maximumIdle: .zero)
        link.send(report(1))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 1, .acknowledged)) })
        // Any idle time at all exceeds a zero bound: the second frame must go over a fresh connection.
        link.send(report(2))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 2, .acknowledged)) })
        #expect(events.all.filter { $0 == .linkUp }.count == 2)
    }

    @Test func unansweredFrameCondemnsTheConnection() throws {
        var policy = SimulatedCentre.Policy()
        policy.ignoreFirst = 1
        let received = Collector<SimulatedCentre.Received>()
        let centre = try SimulatedCentre(port: 0, policy: policy) { received.append($0) }
        centre.start()
        defer { centre.stop() }
        let (link, events) = try link(port: centre.port, unansweredLimit: .zero)
        link.send(report(1))
        #expect(received.waitUntil { $0.count == 1 })
        // Nothing came back for frame 1: frame 2 must not go into the same (possibly dead) flow.
        link.send(report(2))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 2, .acknowledged)) })
        #expect(events.all.filter { $0 == .linkUp }.count == 2)
    }

    @Test func deviceBoardsIgnoreUnauthenticatedCommands() throws {
        var policy = SimulatedCentre.Policy()
        policy.endAfterUpdates = 1
        let centre = try SimulatedCentre(port: 0, policy: policy)
        centre.start()
        defer { centre.stop() }
        let (link, events) = try link(port: centre.port, acceptsCommands: false)
        link.send(report(1, .positionUpdate))
        link.send(report(2))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 2, .acknowledged)) })
        #expect(!events.all.contains { if case .command = $0 { true } else { false } })
    }

    @Test func centreRestartIsSurvived() throws {
        let first = try SimulatedCentre(port: 0)
        first.start()
        let port = first.port
        let (link, events) = try link(port: port)
        link.send(report(1))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 1, .acknowledged)) })
        first.stop()
        #expect(events.waitUntil { $0.contains { if case .linkDown = $0 { true } else { false } } })
        let second = try SimulatedCentre(port: port)
        second.start()
        defer { second.stop() }
        link.send(report(2))
        #expect(events.waitUntil { $0.contains(.outcome(sequence: 2, .acknowledged)) })
    }
}
