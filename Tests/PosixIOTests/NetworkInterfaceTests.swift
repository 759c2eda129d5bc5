import Dispatch
import Glibc
import ModemTestSupport
import PosixIO
import Testing

/// Needs no privileges: only names that cannot exist.
@Suite struct NetworkInterfaceBasicsTests {
    @Test func missingInterfaceIsNotUsable() {
        let state = NetworkInterfaces.state(of: "nosuchif0")
        #expect(state == InterfaceState(name: "nosuchif0"))
        #expect(!state.usable)
    }

    @Test func loopbackIsUpWithItsAddress() {
        let state = NetworkInterfaces.state(of: "lo")
        #expect(state.exists && state.up && state.running)
        #expect(state.ipv4Addresses.contains("127.0.0.1"))
    }

    @Test func bindingToAMissingOrOverlongDeviceIsTyped() throws {
        let listener = try TCP.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }
        #expect(throws: Errno.noSuchDevice) {
            _ = try TCP.connect(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000, interface: "nosuchif0")
        }
        // The kernel would silently truncate this to an existing "lo".
        #expect(throws: Errno.noSuchDevice) {
            _ = try TCP.connect(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000, interface: "lo" + String(repeating: "x", count: 20))
        }
    }
}

/// Real links: a veth pair into a private network namespace.
@Suite(.enabled(if: VethNamespace.available, "needs root and iproute2 (CI runs as root)"))
struct NetworkInterfaceLinkTests {
    @Test func watcherFollowsDeviceLinkDownAndUp() throws {
        let fixture = try VethNamespace.make().get()
        defer { fixture.remove() }
        #expect(NetworkInterfaces.state(of: fixture.deviceInterface).usable)
        #expect(NetworkInterfaces.state(of: fixture.deviceInterface).ipv4Addresses == [fixture.deviceAddress])

        let states = Collector<InterfaceState>()
        let watcher = InterfaceWatcher(interface: fixture.deviceInterface) { states.append($0) }
        try watcher.start()
        defer { watcher.stop() }
        // Delivered before start() returned.
        #expect(states.all.map(\.usable) == [true])

        try fixture.setDeviceLink(up: false)
        #expect(states.waitUntil(seconds: 5) { $0.last.map { !$0.usable && !$0.up } ?? false })
        // A downed veth keeps its address; only the connected route goes.
        #expect(watcher.current.ipv4Addresses == [fixture.deviceAddress])
        #expect(!watcher.current.hasRoute)

        try fixture.setDeviceLink(up: true)
        #expect(states.waitUntil(seconds: 5) { $0.last?.usable ?? false })
        let delivered = states.all
        #expect(zip(delivered, delivered.dropFirst()).allSatisfy { $0 != $1 }, "only changes are delivered")
    }

    @Test func centreLinkDownRemovesCarrier() throws {
        let fixture = try VethNamespace.make().get()
        defer { fixture.remove() }
        let states = Collector<InterfaceState>()
        let watcher = InterfaceWatcher(interface: fixture.deviceInterface) { states.append($0) }
        try watcher.start()
        defer { watcher.stop() }

        try fixture.setCentreLink(up: false)
        #expect(states.waitUntil(seconds: 5) { $0.last.map { $0.up && !$0.running && !$0.usable } ?? false })

        try fixture.setCentreLink(up: true)
        #expect(states.waitUntil(seconds: 5) { $0.last?.usable ?? false })
    }

    @Test func stopIsPromptAndIdempotent() throws {
        let fixture = try VethNamespace.make().get()
        defer { fixture.remove() }
        let states = Collector<InterfaceState>()
        let watcher = InterfaceWatcher(interface: fixture.deviceInterface) { states.append($0) }
        try watcher.start()
        watcher.stop()
        watcher.stop()
        try fixture.setDeviceLink(up: false)
        // Proven stopped by a later watcher seeing the change the first did not deliver.
        #expect(VethNamespace.wait(for: fixture.deviceInterface, seconds: 5) { !$0.up })
        #expect(states.all.count == 1)
        // Restartable, and the restart delivers the current state again.
        try watcher.start()
        defer { watcher.stop() }
        #expect(states.all.count == 2 && states.all.last?.up == false)
    }

    @Test func boundConnectReachesTheCentre() throws {
        let fixture = try VethNamespace.make().get()
        defer { fixture.remove() }
        let listener = try fixture.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }

        let client = try TCP.connect(
            host: fixture.centreAddress, port: listener.port, timeoutMilliseconds: 5000, interface: fixture.deviceInterface)
        defer { _ = try? client.close() }
        let peer = try listener.accept()
        defer { _ = try? peer.close() }
        #expect(try localAddress(of: client) == fixture.deviceAddress)

        try client.sendAll([0x42], timeoutMilliseconds: 5000)
        #expect(try peer.read(upTo: 1) == [0x42])
        try peer.sendAll([0x43], timeoutMilliseconds: 5000)
        #expect(try client.poll(events: Int16(POLLIN), timeoutMilliseconds: 5000) & Int16(POLLIN) != 0)
        #expect(try client.read(upTo: 1) == [0x43])
    }

    /// Why the report link binds to the modem's interface: with the modem
    /// link down, an unbound connection silently takes the second path.
    @Test func boundConnectFailsPromptlyWhileUnboundTakesTheSecondPath() throws {
        let fixture = try VethNamespace.make(withSecondPath: true).get()
        defer { fixture.remove() }
        let listener = try fixture.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }

        // With both up, the direct link wins on metric.
        let direct = try TCP.connect(host: fixture.centreAddress, port: listener.port, timeoutMilliseconds: 5000)
        #expect(try localAddress(of: direct) == fixture.deviceAddress)
        try direct.close()
        try listener.accept().close()

        try fixture.setDeviceLink(up: false)
        let detour = try TCP.connect(host: fixture.centreAddress, port: listener.port, timeoutMilliseconds: 5000)
        defer { _ = try? detour.close() }
        #expect(try localAddress(of: detour) == fixture.secondPathDeviceAddress)
        try listener.accept().close()

        let started = SystemTime.monotonicNanoseconds()
        #expect(throws: Errno.networkUnreachable) {
            _ = try TCP.connect(
                host: fixture.centreAddress, port: listener.port, timeoutMilliseconds: 5000, interface: fixture.deviceInterface)
        }
        #expect(SystemTime.monotonicNanoseconds() - started < 1_000_000_000, "an error, not the timeout")
    }

    @Test func withEnteredSwitchesBackEvenWhenBodyThrows() throws {
        let fixture = try VethNamespace.make().get()
        defer { fixture.remove() }
        let before = try namespaceLink()
        var target = stat()
        #expect(stat(fixture.namespacePath, &target) == 0)

        let inside = try NetworkNamespace.withEntered(fixture.namespacePath) { try namespaceLink() }
        #expect(inside == "net:[\(target.st_ino)]")
        #expect(inside != before)
        #expect(try namespaceLink() == before)

        #expect(throws: Errno.timedOut) {
            try NetworkNamespace.withEntered(fixture.namespacePath) { throw Errno.timedOut }
        }
        #expect(try namespaceLink() == before)
    }
}

private func namespaceLink() throws -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let length = readlink("/proc/thread-self/ns/net", &buffer, buffer.count - 1)
    guard length > 0 else { throw Errno.current }
    return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The address the kernel chose, which names the path a connection took.
private func localAddress(of fd: FileDescriptor) throws -> String {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let result = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &length) }
    }
    guard result == 0 else { throw Errno.current }
    var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
    guard inet_ntop(AF_INET, &address.sin_addr, &buffer, socklen_t(buffer.count)) != nil else { throw Errno.current }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
