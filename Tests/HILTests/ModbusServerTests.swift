import Glibc
import Logging
import Modbus
import Synchronization
import Testing

@Suite struct ModbusServerTests {
    let layout = ModbusLayout(coils: 2, discreteInputs: 3, holdingRegisters: 2, inputRegisters: 4,
                              writableCoils: 0..<1, writableHoldingRegisters: 0..<1)

    final class Writes: Sendable {
        let seen = Mutex<[ModbusWrite]>([])
    }

    func server(_ writes: Writes) throws -> ModbusServer {
        let box = Counter()
        let server = try ModbusServer(endpoint: .tcp(host: "127.0.0.1", port: 0), layout: layout, logger: Logger(label: "test"),
                                      refresh: { image in
                                          let n = box.next()
                                          image.inputRegisters[0] = n
                                          image.setInt32(-123_456_789, at: 1)
                                          image.discreteInputs[2] = true
                                      },
                                      onWrite: { new in writes.seen.withLock { $0 += new } })
        server.start()
        return server
    }

    final class Counter: Sendable {
        let value = Mutex<UInt16>(0)
        func next() -> UInt16 {
            value.withLock { count in
                count += 1
                return count
            }
        }
    }

    @Test func readsAFreshImageForEveryRequest() throws {
        let writes = Writes()
        let server = try server(writes)
        defer { server.stop() }
        let client = try ModbusClient.tcp(host: "127.0.0.1", port: server.boundPort)
        let first = try client.readInputRegisters(0, count: 4)
        let second = try client.readInputRegisters(0, count: 4)
        #expect(second[0] == first[0] + 1)
        #expect(first.int32(at: 1) == -123_456_789)
        #expect(try client.readDiscreteInputs(0, count: 3) == [false, false, true])
    }

    @Test func acceptsWritesOnlyInsideTheWritableRanges() throws {
        let writes = Writes()
        let server = try server(writes)
        defer { server.stop() }
        let client = try ModbusClient.tcp(host: "127.0.0.1", port: server.boundPort)
        try client.writeRegister(0, 2500)
        try client.writeCoil(0, true)
        #expect(writes.seen.withLock { $0 } == [.holdingRegister(address: 0, value: 2500), .coil(address: 0, value: true)])
        #expect(try client.readHoldingRegisters(0, count: 1) == [2500])

        // Read-only inside the map, and outside it: exception 2, nothing changes, the connection stays usable.
        expectAddressException { () throws(ModbusError) in try client.writeCoil(1, true) }
        expectAddressException { () throws(ModbusError) in try client.writeRegister(1, 7) }
        expectAddressException { () throws(ModbusError) in try client.writeRegister(40, 7) }
        expectAddressException { () throws(ModbusError) in try client.writeRegisters(0, [1, 2]) }
        expectAddressException { () throws(ModbusError) in _ = try client.readInputRegisters(3, count: 5) }
        #expect(writes.seen.withLock { $0.count } == 2)
        #expect(try client.readHoldingRegisters(0, count: 2) == [2500, 0])
    }

    func expectAddressException(_ body: () throws(ModbusError) -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == .exception(2), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func survivesGarbageAndAbruptClients() throws {
        let writes = Writes()
        let server = try server(writes)
        defer { server.stop() }
        // A client that sends a malformed MBAP header (length 0xFFFF), another that sends half a frame and
        // hangs up, and one that sends an unsupported function (0x2B read device identification).
        for bytes: [UInt8] in [[0, 1, 0, 0, 0xFF, 0xFF, 1, 3, 0, 0], [0, 1, 0, 0, 0, 6, 1], [0, 2, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0],
                               Array(repeating: 0xA5, count: 600)] {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = server.boundPort.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            _ = bytes.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
        }
        let client = try ModbusClient.tcp(host: "127.0.0.1", port: server.boundPort)
        #expect(try client.readDiscreteInputs(0, count: 3) == [false, false, true])
        #expect(writes.seen.withLock { $0 }.isEmpty)
    }
}
