import AlarmRuntime
import Dispatch
import Glibc
import PosixIO
import Testing

/// systemd's end: a datagram socket bound in a private directory, as `$NOTIFY_SOCKET` would name it.
private final class NotifySocket {
    let directory: String
    let path: String
    let fd: Int32

    init() throws {
        var template = Array("/tmp/watchdog-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Errno.current }
        directory = String(cString: made)
        path = directory + "/notify"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else { throw Errno.current }
    }

    deinit {
        close(fd)
        unlink(path)
        rmdir(directory)
    }

    /// The keep-alives delivered so far and not yet counted.
    func takeWatchdogPings() -> Int {
        var count = 0
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let length = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if length < 0 { return count }
            if String(decoding: buffer[..<length], as: UTF8.self) == "WATCHDOG=1" { count += 1 }
        }
    }
}

@Suite struct ServiceWatchdogTests {
    /// The daemon's wiring: a real notifier to a real socket, pinging from the runtime's loop on its clock.
    private static func watchdog(_ scenario: Scenario, _ socket: NotifySocket) throws -> ServiceWatchdog {
        let notifier = try #require(SystemdNotifier(socket: socket.path))
        return ServiceWatchdog(runtime: scenario.runtime, clock: scenario.clock, interval: .seconds(5)) {
            try? notifier.send(.watchdog)
        }
    }

    @Test func pingsAtOnceThenEveryIntervalWhileTheLoopTurns() throws {
        let scenario = Scenario()
        try scenario.start()
        let socket = try NotifySocket()
        let watchdog = try Self.watchdog(scenario, socket)

        watchdog.start()
        #expect(socket.takeWatchdogPings() == 1)
        scenario.advance(.milliseconds(4999))
        #expect(socket.takeWatchdogPings() == 0)
        scenario.advance(.milliseconds(1))
        #expect(socket.takeWatchdogPings() == 1)
        // An alarm in between keeps the loop busy but turning: the pings go on.
        scenario.pressAndHold()
        scenario.advance(.seconds(20))
        #expect(socket.takeWatchdogPings() == 4)

        watchdog.stop()
        scenario.advance(.seconds(60))
        #expect(socket.takeWatchdogPings() == 0)
    }

    @Test func aBlockedLoopStopsThePingsAndTheyResumeWhenItTurnsAgain() throws {
        let scenario = Scenario()
        try scenario.start()
        let socket = try NotifySocket()
        let watchdog = try Self.watchdog(scenario, socket)
        watchdog.start()
        #expect(socket.takeWatchdogPings() == 1)

        // Another thread enters the loop and hangs there, as an effect stuck in a backend would.
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), drained = DispatchSemaphore(value: 0)
        let runtime = scenario.runtime
        DispatchQueue.global().async {
            runtime.perform {
                entered.signal()
                release.wait()
            }
            drained.signal()
        }
        #expect(entered.wait(timeout: .now() + .seconds(10)) == .success)

        // The watchdog's timer fires, but its request waits behind the hung work: systemd would restart us.
        scenario.advance(.seconds(60))
        #expect(socket.takeWatchdogPings() == 0)

        release.signal()
        #expect(drained.wait(timeout: .now() + .seconds(10)) == .success)
        // The waiting request ran when the loop came free, and the cadence goes on from there.
        #expect(socket.takeWatchdogPings() == 1)
        scenario.advance(.seconds(5))
        #expect(socket.takeWatchdogPings() == 1)
        watchdog.stop()
    }

    @Test func aDeadRuntimeNeverPings() throws {
        let scenario = Scenario()
        try scenario.start()
        let socket = try NotifySocket()
        let watchdog = try Self.watchdog(scenario, socket)
        watchdog.start()
        #expect(socket.takeWatchdogPings() == 1)

        scenario.runtime.stopForPowerLoss()
        scenario.advance(.seconds(30))
        #expect(socket.takeWatchdogPings() == 0)
    }
}
