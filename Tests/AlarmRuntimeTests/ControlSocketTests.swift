import AlarmCore
import AlarmRuntime
import AlarmSimulation
import Glibc
import HAL
import Logging
import PosixIO
import SimBackends
import Testing

/// The control socket with a real Unix socket; the device behind it runs on a manual clock.
@Suite struct ControlSocketTests {
    func socketPath() -> String { "/tmp/alarmd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock" }

    @Test func statusSimAndWatchOverTheSocket() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        let path = socketPath()
        let world = {
            var w = SimWorld()
            w.button = s.button
            w.modem = s.modem
            w.reportLink = s.link
            return w
        }()
        let server = try ControlServer(path: path, runtime: s.runtime, simulation: SimControl(world: world, clock: s.clock),
                                       logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        server.start()
        defer { server.stop() }

        // Owner-only socket.
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)

        let client = try ControlClient(socketPath: path)
        let status = try client.request(ControlRequest(command: "status"))
        #expect(status.ok)
        #expect(status.status?.registration == "home")
        #expect(status.status?.mode == "idle")

        let watcher = try ControlClient(socketPath: path)
        try watcher.startWatching()
        // History is replayed: the boot is there although it happened before the watch began.
        #expect(try watcher.nextRecord(timeoutMilliseconds: 5000)?.category == .boot)

        let press = try client.request(ControlRequest(command: "sim", arguments: ["press", "2.5s"]))
        #expect(press.ok)
        s.advance(.seconds(3))
        var categories: [TimelineRecord.Category] = []
        while let record = try watcher.nextRecord(timeoutMilliseconds: 2000) {
            categories.append(record.category)
            if record.category == .delivered { break }
        }
        #expect(categories.contains(.trigger))
        #expect(categories.contains(.delivered))
        #expect(try client.request(ControlRequest(command: "status")).status?.mode == "alarm")

        let bad = try client.request(ControlRequest(command: "sim", arguments: ["fly"]))
        #expect(!bad.ok)
        #expect(bad.error?.contains("unknown action") == true)
        let unknown = try client.request(ControlRequest(command: "reboot"))
        #expect(!unknown.ok)
    }

    @Test func garbageOnTheSocketGetsAnErrorAndTheConnectionSurvives() throws {
        let s = Scenario()
        try s.start()
        let path = socketPath()
        let server = try ControlServer(path: path, runtime: s.runtime, simulation: nil,
                                       logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        server.start()
        defer { server.stop() }
        let fd = try UnixSocket.connect(path: path)
        defer { try? fd.close() }
        try fd.sendAll(Array("this is not json\n".utf8))
        let client = try ControlClient(socketPath: path)
        let sim = try client.request(ControlRequest(command: "sim", arguments: ["press"]))
        #expect(!sim.ok)
        #expect(sim.error?.contains("no simulated backends") == true)
    }
}
