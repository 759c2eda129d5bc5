import CModbus
import Glibc
import Logging
import Synchronization

/// The size of each data area, starting at address 0, and which addresses a client may write.
public struct ModbusLayout: Sendable, Hashable {
    public var coils: Int
    public var discreteInputs: Int
    public var holdingRegisters: Int
    public var inputRegisters: Int
    /// Everything else is read-only: a write there is answered with exception 2 (illegal data address).
    public var writableCoils: Range<Int>
    public var writableHoldingRegisters: Range<Int>

    public init(coils: Int, discreteInputs: Int, holdingRegisters: Int, inputRegisters: Int,
                writableCoils: Range<Int> = 0..<0, writableHoldingRegisters: Range<Int> = 0..<0) {
        self.coils = coils
        self.discreteInputs = discreteInputs
        self.holdingRegisters = holdingRegisters
        self.inputRegisters = inputRegisters
        self.writableCoils = writableCoils
        self.writableHoldingRegisters = writableHoldingRegisters
    }
}

/// The server's view of its data, refreshed before every request.
public struct ModbusImage: Sendable, Hashable {
    public var coils: [Bool]
    public var discreteInputs: [Bool]
    public var holdingRegisters: [UInt16]
    public var inputRegisters: [UInt16]

    public init(_ layout: ModbusLayout) {
        coils = Array(repeating: false, count: layout.coils)
        discreteInputs = Array(repeating: false, count: layout.discreteInputs)
        holdingRegisters = Array(repeating: 0, count: layout.holdingRegisters)
        inputRegisters = Array(repeating: 0, count: layout.inputRegisters)
    }

    /// A signed 32-bit value in two registers, high word first.
    public mutating func setInt32(_ value: Int32, at address: Int) {
        let bits = UInt32(bitPattern: value)
        inputRegisters[address] = UInt16(bits >> 16)
        inputRegisters[address + 1] = UInt16(bits & 0xFFFF)
    }

    public mutating func setUInt32(_ value: UInt32, at address: Int) {
        inputRegisters[address] = UInt16(value >> 16)
        inputRegisters[address + 1] = UInt16(value & 0xFFFF)
    }
}

/// What a client changed, after the server has accepted the write.
public enum ModbusWrite: Sendable, Hashable {
    case coil(address: Int, value: Bool)
    case holdingRegister(address: Int, value: UInt16)
}

public enum ModbusEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    /// A UART; `unit` is the server's address on the bus.
    case rtu(device: String, baud: Int32, unit: Int32)

    public var description: String {
        switch self {
        case .tcp(let host, let port): "tcp://\(host):\(port)"
        case .rtu(let device, let baud, let unit): "rtu:\(device)?baud=\(baud)&unit=\(unit)"
        }
    }
}

/// A Modbus server through libmodbus on its own thread: poll(2) on the listening socket, the clients and a
/// stop pipe (no polling loop). The map is fixed by the layout; reads are served from a fresh image, writes
/// outside the writable ranges and unsupported functions get a Modbus exception, and a malformed request
/// costs the client its connection, never the server.
public final class ModbusServer: @unchecked Sendable {
    // Everything below is touched only by the server thread once `start` has returned, except `stopPipe`.
    private let layout: ModbusLayout
    private let refresh: @Sendable (inout ModbusImage) -> Void
    private let onWrite: @Sendable ([ModbusWrite]) -> Void
    private let logger: Logger
    private let context: OpaquePointer
    private let mapping: UnsafeMutablePointer<modbus_mapping_t>
    private var image: ModbusImage
    private var listener: Int32 = -1
    private var clients: [Int32] = []
    private let stopPipe: (read: Int32, write: Int32)
    private var thread = pthread_t()
    private let running = Mutex(false)
    public let endpoint: ModbusEndpoint
    /// The port actually bound (useful with port 0).
    public private(set) var boundPort: UInt16 = 0

    public init(endpoint: ModbusEndpoint, layout: ModbusLayout, logger: Logger,
                refresh: @escaping @Sendable (inout ModbusImage) -> Void,
                onWrite: @escaping @Sendable ([ModbusWrite]) -> Void) throws(ModbusError) {
        self.endpoint = endpoint
        self.layout = layout
        self.refresh = refresh
        self.onWrite = onWrite
        self.logger = logger
        image = ModbusImage(layout)
        let created: OpaquePointer?
        switch endpoint {
        case .tcp(let host, let port): created = modbus_new_tcp(host, Int32(port))
        case .rtu(let device, let baud, _): created = modbus_new_rtu(device, baud, CChar(UInt8(ascii: "N")), 8, 1)
        }
        guard let created else { throw ModbusError.last("test port \(endpoint)") }
        context = created
        guard let mapped = modbus_mapping_new(Int32(layout.coils), Int32(layout.discreteInputs),
                                              Int32(layout.holdingRegisters), Int32(layout.inputRegisters)) else {
            modbus_free(created)
            throw ModbusError.last("modbus_mapping_new")
        }
        mapping = mapped
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            modbus_mapping_free(mapped)
            modbus_free(created)
            throw ModbusError("pipe", kind: .other, message: String(cString: strerror(errno)))
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        stopPipe = (fds[0], fds[1])
        do throws(ModbusError) {
            try open()
        } catch {
            close(fds[0])
            close(fds[1])
            modbus_mapping_free(mapped)
            modbus_free(created)
            throw error
        }
    }

    private func open() throws(ModbusError) {
        switch endpoint {
        case .tcp:
            listener = modbus_tcp_listen(context, 4)
            guard listener >= 0 else { throw ModbusError.last("listen on \(endpoint)") }
            _ = fcntl(listener, F_SETFD, FD_CLOEXEC)
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
            }
            boundPort = UInt16(bigEndian: address.sin_port)
        case .rtu(_, _, let unit):
            modbus_set_slave(context, unit)
            guard modbus_connect(context) == 0 else { throw ModbusError.last("open \(endpoint)") }
            clients = [modbus_get_socket(context)]
        }
    }

    public func start() {
        let first = running.withLock { value -> Bool in
            defer { value = true }
            return !value
        }
        guard first else { return }
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { argument in
            let server = Unmanaged<ModbusServer>.fromOpaque(argument!).takeRetainedValue()
            server.serve()
            return nil
        }, box.toOpaque())
    }

    /// Stops serving and closes every connection; returns once the server thread has ended.
    public func stop() {
        let wasRunning = running.withLock { value -> Bool in
            defer { value = false }
            return value
        }
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        if wasRunning { pthread_join(thread, nil) }
        release()
    }

    private var released = false
    private func release() {
        guard !released else { return }
        released = true
        switch endpoint {
        case .tcp:
            for client in clients { close(client) }
            if listener >= 0 { close(listener) }
        case .rtu:
            modbus_close(context)
        }
        clients = []
        close(stopPipe.read)
        close(stopPipe.write)
        modbus_mapping_free(mapping)
        modbus_free(context)
    }

    private func serve() {
        var request = [UInt8](repeating: 0, count: Int(MODBUS_MAX_ADU_LENGTH))
        while true {
            var fds = [pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
            if listener >= 0 { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            for client in clients { fds.append(pollfd(fd: client, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("test port stopped: poll failed", metadata: ["error": "\(String(cString: strerror(errno)))"])
                return
            }
            if fds[0].revents != 0 { return }
            var index = 1
            if listener >= 0 {
                if fds[1].revents & Int16(POLLIN) != 0 { accept() }
                index = 2
            }
            for entry in fds[index...] where entry.revents != 0 {
                handle(client: entry.fd, buffer: &request)
            }
        }
    }

    private func accept() {
        var socket = listener
        let client = modbus_tcp_accept(context, &socket)
        guard client >= 0 else {
            logger.warning("test port: accept failed", metadata: ["error": "\(String(cString: modbus_strerror(errno)))"])
            return
        }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        if clients.count >= 8, let oldest = clients.first {
            // A bounded number of connections: a rig that leaks connections does not exhaust the daemon.
            close(oldest)
            clients.removeFirst()
        }
        clients.append(client)
    }

    private func handle(client: Int32, buffer: inout [UInt8]) {
        modbus_set_socket(context, client)
        let length = buffer.withUnsafeMutableBufferPointer { modbus_receive(context, $0.baseAddress) }
        if length < 0 {
            if case .rtu = endpoint {
                modbus_flush(context)
                return
            }
            close(client)
            clients.removeAll { $0 == client }
            return
        }
        guard length > 0 else { return }
        let offset = Int(modbus_get_header_length(context))
        guard Int(length) > offset else { return }
        let function = buffer[offset]
        func word(_ at: Int) -> Int { at + 1 < Int(length) ? Int(buffer[at]) << 8 | Int(buffer[at + 1]) : -1 }
        var written: (area: ModbusArea, range: Range<Int>)?
        switch function {
        case 0x01, 0x02, 0x03, 0x04:
            break
        case 0x05, 0x06, 0x0F, 0x10:
            let address = word(offset + 1)
            let count = function == 0x05 || function == 0x06 ? 1 : word(offset + 3)
            let area: ModbusArea = function == 0x05 || function == 0x0F ? .coils : .holdingRegisters
            let allowed = area == .coils ? layout.writableCoils : layout.writableHoldingRegisters
            guard address >= 0, count > 0, allowed.contains(address), allowed.contains(address + count - 1) else {
                reply(exception: Int(MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS), buffer: buffer)
                return
            }
            written = (area, address..<(address + count))
        default:
            reply(exception: Int(MODBUS_EXCEPTION_ILLEGAL_FUNCTION), buffer: buffer)
            return
        }
        // Writes take effect before the answer leaves: a rig whose write was acknowledged can rely on it.
        if let written {
            let writes = decodeWrites(function: function, area: written.area, range: written.range, offset: offset,
                                      request: buffer, length: Int(length))
            guard let writes else {
                reply(exception: Int(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE), buffer: buffer)
                return
            }
            for write in writes {
                switch write {
                case .coil(let address, let value): image.coils[address] = value
                case .holdingRegister(let address, let value): image.holdingRegisters[address] = value
                }
            }
            onWrite(writes)
        }
        refresh(&image)
        load()
        _ = buffer.withUnsafeBufferPointer { modbus_reply(context, $0.baseAddress, length, mapping) }
    }

    /// The values a write request carries (the request has passed libmodbus's framing checks).
    private func decodeWrites(function: UInt8, area: ModbusArea, range: Range<Int>, offset: Int,
                              request: [UInt8], length: Int) -> [ModbusWrite]? {
        func byte(_ at: Int) -> Int? { at < length ? Int(request[at]) : nil }
        func word(_ at: Int) -> Int? {
            guard let high = byte(at), let low = byte(at + 1) else { return nil }
            return high << 8 | low
        }
        switch function {
        case 0x05:
            guard let value = word(offset + 3), value == 0xFF00 || value == 0 else { return nil }
            return [.coil(address: range.lowerBound, value: value == 0xFF00)]
        case 0x06:
            guard let value = word(offset + 3) else { return nil }
            return [.holdingRegister(address: range.lowerBound, value: UInt16(value))]
        case 0x0F:
            var writes: [ModbusWrite] = []
            for (i, address) in range.enumerated() {
                guard let bits = byte(offset + 6 + i / 8) else { return nil }
                writes.append(.coil(address: address, value: bits >> (i % 8) & 1 == 1))
            }
            return writes
        case 0x10:
            var writes: [ModbusWrite] = []
            for (i, address) in range.enumerated() {
                guard let value = word(offset + 6 + 2 * i) else { return nil }
                writes.append(.holdingRegister(address: address, value: UInt16(value)))
            }
            return writes
        default:
            return nil
        }
    }

    private func reply(exception: Int, buffer: [UInt8]) {
        _ = buffer.withUnsafeBufferPointer { modbus_reply_exception(context, $0.baseAddress, UInt32(exception)) }
    }

    private func load() {
        let m = mapping.pointee
        for (i, value) in image.coils.enumerated() { m.tab_bits[i] = value ? 1 : 0 }
        for (i, value) in image.discreteInputs.enumerated() { m.tab_input_bits[i] = value ? 1 : 0 }
        for (i, value) in image.holdingRegisters.enumerated() { m.tab_registers[i] = value }
        for (i, value) in image.inputRegisters.enumerated() { m.tab_input_registers[i] = value }
    }
}
