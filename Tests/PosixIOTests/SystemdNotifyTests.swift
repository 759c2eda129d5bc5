import Glibc
import PosixIO
import Testing

/// The service manager's end of the protocol: a datagram socket bound where `$NOTIFY_SOCKET` would point.
private final class ManagerSocket {
    let fd: Int32
    let name: String

    /// `name` is a path, or `@…` for the abstract namespace (as systemd writes it in the environment).
    init(name: String) throws {
        self.name = name
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if name.hasPrefix("@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard status == 0 else {
            let error = Errno.current
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Every datagram already queued (sendto on a local datagram socket has delivered when it returns).
    func received() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count < 0 { return messages }
            messages.append(String(decoding: buffer[..<count], as: UTF8.self))
        }
    }
}

@Suite struct SystemdNotifyTests {
    @Test func readyWatchdogAndStoppingReachASocketBoundAtAPath() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let manager = try ManagerSocket(name: directory + "/notify")
        let notifier = try #require(SystemdNotifier(socket: manager.name))

        try notifier.send(.ready, .status("alarm armed"))
        try notifier.send(.watchdog)
        try notifier.send(.stopping)

        #expect(manager.received() == ["READY=1\nSTATUS=alarm armed", "WATCHDOG=1", "STOPPING=1"])
    }

    @Test func anAbstractSocketNameWorks() throws {
        let name = "@stalking-alarm-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let manager = try ManagerSocket(name: name)
        let notifier = try #require(SystemdNotifier(socket: name))

        try notifier.send(.ready)
        try notifier.send(.watchdog)

        #expect(manager.received() == ["READY=1", "WATCHDOG=1"])
    }

    @Test func withoutANotifySocketThereIsNobodyToNotify() {
        #expect(SystemdNotifier(socket: nil) == nil)
        #expect(SystemdNotifier(socket: "") == nil)
        // Relative names are not something systemd passes; refusing them keeps a stray variable from sending
        // datagrams to a socket in whatever the working directory is.
        #expect(SystemdNotifier(socket: "notify") == nil)
        #expect(SystemdNotifier(socket: "/" + String(repeating: "x", count: 200)) == nil)
    }

    @Test func aVanishedManagerIsReportedNotFatal() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let notifier = try #require(SystemdNotifier(socket: directory + "/gone"))
        #expect(throws: Errno.noSuchFile) { try notifier.send(.watchdog) }
    }

    /// Found by breaking the watchdog on purpose: a blocking send into a full queue hung the sending thread, which
    /// is the runtime's event loop.
    @Test func aManagerThatStopsReadingNeverBlocksTheSender() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let manager = try ManagerSocket(name: directory + "/notify")
        let notifier = try #require(SystemdNotifier(socket: manager.name))

        var refused: Errno?
        for _ in 0..<100_000 {
            do {
                try notifier.send(.watchdog)
            } catch {
                refused = error
                break
            }
        }
        #expect(refused == .wouldBlock)
        #expect(manager.received().count > 0)
    }

    @Test func aStatusTextCannotForgeAnotherAssignment() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let manager = try ManagerSocket(name: directory + "/notify")
        let notifier = try #require(SystemdNotifier(socket: manager.name))

        try notifier.send(.status("modem down\nREADY=1"))

        #expect(manager.received() == ["STATUS=modem down READY=1"])
    }

    @Test func theWatchdogIntervalIsHalfTheManagersTimeoutAndOnlyForItsProcess() {
        #expect(SystemdNotifier.watchdogPingInterval(microseconds: "10000000", pid: nil, ownPID: 42) == .seconds(5))
        #expect(SystemdNotifier.watchdogPingInterval(microseconds: "10000000", pid: "42", ownPID: 42) == .seconds(5))
        // Inherited from a parent: not ours to feed.
        #expect(SystemdNotifier.watchdogPingInterval(microseconds: "10000000", pid: "41", ownPID: 42) == nil)
        #expect(SystemdNotifier.watchdogPingInterval(microseconds: nil, pid: nil, ownPID: 42) == nil)
        #expect(SystemdNotifier.watchdogPingInterval(microseconds: "0", pid: nil, ownPID: 42) == nil)
        #expect(SystemdNotifier.watchdogPingInterval(microseconds: "soon", pid: nil, ownPID: 42) == nil)
    }
}
