import Dispatch
import Glibc
import PosixIO
import Testing

@Suite struct StreamConnectionTests {
    /// Echo server on an ephemeral loopback port, driven entirely through
    /// StreamConnection on both ends.
    @Test func roundTripOverLoopback() throws {
        let listener = try TCP.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }
        #expect(listener.port != 0)

        let queue = DispatchQueue(label: "stream-test")
        let serverClosed = DispatchSemaphore(value: 0)
        let serverCloseReasons = Recorder<[Errno?]>([])
        let accepted = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            guard let fd = try? listener.accept() else { return }
            let connection = Recorder<StreamConnection?>(nil)
            let echo = StreamConnection(
                descriptor: fd,
                queue: queue,
                onBytes: { bytes in _ = try? connection.value?.send(bytes) },
                onClose: { reason in
                    serverCloseReasons.update { $0.append(reason) }
                    serverClosed.signal()
                }
            )
            connection.update { $0 = echo }
            echo.start()
            accepted.signal()
        }

        let received = Recorder<[UInt8]>([])
        let echoed = DispatchSemaphore(value: 0)
        let clientClosed = DispatchSemaphore(value: 0)
        let clientCloseReasons = Recorder<[Errno?]>([])
        let message = Array("wearable alarm \u{1F6A8}".utf8) + [UInt8](repeating: 0xA5, count: 20_000)
        let fd = try TCP.connect(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        let client = StreamConnection(
            descriptor: fd,
            queue: DispatchQueue(label: "stream-test-client"),
            onBytes: { bytes in
                let total = received.update { all -> Int in
                    all.append(contentsOf: bytes)
                    return all.count
                }
                if total == message.count {
                    echoed.signal()
                }
            },
            onClose: { reason in
                clientCloseReasons.update { $0.append(reason) }
                clientClosed.signal()
            }
        )
        client.start()
        #expect(accepted.wait(timeout: deadline()) == .success)

        try client.send(message)
        #expect(echoed.wait(timeout: deadline()) == .success)
        #expect(received.value == message)

        client.close()
        client.close()
        #expect(clientClosed.wait(timeout: deadline()) == .success)
        #expect(serverClosed.wait(timeout: deadline()) == .success)
        #expect(clientCloseReasons.value == [nil])
        // The client's shutdown is an orderly EOF for the server.
        #expect(serverCloseReasons.value == [nil])
        #expect(throws: Errno.badFileDescriptor) { try client.send([1]) }
    }

    @Test func closeBeforeStartStillReportsOnce() throws {
        let listener = try TCP.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }
        let fd = try TCP.connect(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        let peer = try listener.accept()
        defer { _ = try? peer.close() }

        let closed = DispatchSemaphore(value: 0)
        let reasons = Recorder<[Errno?]>([])
        let connection = StreamConnection(
            descriptor: fd,
            queue: DispatchQueue(label: "close-before-start"),
            onBytes: { _ in },
            onClose: { reason in
                reasons.update { $0.append(reason) }
                closed.signal()
            }
        )
        connection.close()
        connection.start()
        connection.close()
        #expect(closed.wait(timeout: deadline()) == .success)
        #expect(reasons.value == [nil])
        // The descriptor was closed by the connection: the peer sees EOF.
        #expect(try peer.poll(events: Int16(POLLIN), timeoutMilliseconds: 5000) != 0)
        #expect(try peer.read(upTo: 16) == [])
    }

    @Test func peerEOFReportsNil() throws {
        let listener = try TCP.listen(port: 0)
        defer { _ = try? listener.descriptor.close() }
        let fd = try TCP.connect(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        let peer = try listener.accept()

        let closed = DispatchSemaphore(value: 0)
        let reasons = Recorder<[Errno?]>([])
        let received = Recorder<[UInt8]>([])
        let connection = StreamConnection(
            descriptor: fd,
            queue: DispatchQueue(label: "peer-eof"),
            onBytes: { bytes in received.update { $0.append(contentsOf: bytes) } },
            onClose: { reason in
                reasons.update { $0.append(reason) }
                closed.signal()
            }
        )
        connection.start()
        try peer.sendAll([1, 2, 3])
        try peer.close()
        #expect(closed.wait(timeout: deadline()) == .success)
        #expect(received.value == [1, 2, 3])
        #expect(reasons.value == [nil])
    }
}
