import Glibc
import PosixIO
import Testing

@Suite struct TCPTests {
    @Test func connectToClosedPortIsRefused() throws {
        // Grab a free port, then release it so nothing listens there.
        let listener = try TCP.listen(port: 0)
        let port = listener.port
        try listener.descriptor.close()
        #expect(throws: Errno.connectionRefused) {
            _ = try TCP.connect(host: "127.0.0.1", port: port, timeoutMilliseconds: 2000)
        }
    }

    @Test func unresolvableHostIsTyped() {
        #expect(throws: Errno.hostUnreachable) {
            _ = try TCP.connect(host: "no-such-host.invalid", port: 1, timeoutMilliseconds: 2000)
        }
    }

    @Test func connectedDescriptorIsNonBlocking() throws {
        let listener = try TCP.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }
        let fd = try TCP.connect(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        defer { _ = try? fd.close() }
        let peer = try listener.accept()
        defer { _ = try? peer.close() }
        #expect(throws: Errno.wouldBlock) { _ = try fd.read(upTo: 8) }
        #expect(try peer.send([7, 8]) == 2)
        #expect(try fd.poll(events: Int16(POLLIN), timeoutMilliseconds: 5000) & Int16(POLLIN) != 0)
        #expect(try fd.read(upTo: 8) == [7, 8])
    }

    @Test func sendToVanishedPeerIsBrokenPipeNotSignal() throws {
        let listener = try TCP.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }
        let fd = try TCP.connect(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        defer { _ = try? fd.close() }
        try listener.accept().close()
        // The first send may still be accepted before the RST arrives; a
        // later one must fail with a typed error (and the process survives).
        var failure: Errno?
        for _ in 0..<100 where failure == nil {
            do throws(Errno) {
                try fd.sendAll([UInt8](repeating: 1, count: 1024), timeoutMilliseconds: 5000)
                _ = try fd.poll(events: Int16(POLLIN), timeoutMilliseconds: 10)
            } catch {
                failure = error
            }
        }
        #expect(failure == .brokenPipe || failure == .connectionReset)
    }
}

@Suite struct UnixSocketTests {
    @Test func listenCreatesPrivateSocketAndReplacesStaleOne() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/control.sock"

        let first = try UnixSocket.listen(path: path, mode: 0o600)
        let mode = try #require(fileMode(path))
        #expect(mode & S_IFMT == S_IFSOCK)
        #expect(mode & 0o777 == 0o600)

        // Simulate a crash: the descriptor goes away, the file stays.
        try first.close()
        #expect(fileMode(path) != nil)

        let second = try UnixSocket.listen(path: path, mode: 0o660)
        defer { _ = try? second.close() }
        #expect(try #require(fileMode(path)) & 0o777 == 0o660)
        let client = try UnixSocket.connect(path: path)
        try client.close()
    }

    @Test func liveSocketAndRegularFileAreNotRemoved() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let live = directory + "/live.sock"
        let listener = try UnixSocket.listen(path: live)
        defer { _ = try? listener.close() }
        #expect(throws: Errno.addressInUse) { _ = try UnixSocket.listen(path: live) }

        let regular = directory + "/not-a-socket"
        let fd = try FileDescriptor.open(regular, O_WRONLY | O_CREAT)
        try fd.close()
        #expect(throws: Errno.addressInUse) { _ = try UnixSocket.listen(path: regular) }
        #expect(fileMode(regular).map { $0 & S_IFMT } == S_IFREG)
    }

    @Test func peerUIDIsOurUID() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/peer.sock"
        let listener = try UnixSocket.listen(path: path)
        defer { _ = try? listener.close() }
        let client = try UnixSocket.connect(path: path)
        defer { _ = try? client.close() }
        let server = try UnixSocket.accept(listener)
        defer { _ = try? server.close() }
        #expect(try UnixSocket.peerUID(server) == getuid())
        #expect(try UnixSocket.peerUID(client) == getuid())

        try client.sendAll(Array("ping".utf8))
        #expect(try server.read(upTo: 16) == Array("ping".utf8))
    }

    @Test func overlongPathIsRejected() {
        let path = "/tmp/" + String(repeating: "x", count: 200)
        #expect(throws: Errno(ENAMETOOLONG)) { _ = try UnixSocket.listen(path: path) }
    }
}
