import CModbus
import Glibc

/// A Modbus master over TCP or RTU through libmodbus. Not thread-safe: one owner calls it.
public final class ModbusClient: @unchecked Sendable {
    private let context: OpaquePointer
    public let endpoint: String

    /// `timeout`: how long one request waits for its answer.
    public static func tcp(host: String, port: UInt16, unit: Int32 = 1, timeout: Duration = .seconds(1)) throws(ModbusError) -> ModbusClient {
        guard let context = modbus_new_tcp(host, Int32(port)) else { throw ModbusError.last("modbus_new_tcp \(host):\(port)") }
        return try ModbusClient(context: context, endpoint: "tcp://\(host):\(port)", unit: unit, timeout: timeout)
    }

    public static func rtu(device: String, baud: Int32, unit: Int32, timeout: Duration = .seconds(1)) throws(ModbusError) -> ModbusClient {
        guard let context = modbus_new_rtu(device, baud, CChar(UInt8(ascii: "N")), 8, 1) else {
            throw ModbusError.last("modbus_new_rtu \(device)")
        }
        return try ModbusClient(context: context, endpoint: "rtu:\(device)?baud=\(baud)", unit: unit, timeout: timeout)
    }

    /// Connects first, so that the object (whose deinit frees the context) exists only for a usable context.
    private convenience init(context: OpaquePointer, endpoint: String, unit: Int32, timeout: Duration) throws(ModbusError) {
        let micro = max(timeout.components.seconds * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000, 1000)
        modbus_set_response_timeout(context, UInt32(micro / 1_000_000), UInt32(micro % 1_000_000))
        modbus_set_slave(context, unit)
        guard modbus_connect(context) == 0 else {
            let error = ModbusError.last("connect \(endpoint)")
            modbus_free(context)
            throw error
        }
        self.init(connected: context, endpoint: endpoint)
    }

    private init(connected context: OpaquePointer, endpoint: String) {
        self.context = context
        self.endpoint = endpoint
    }

    deinit {
        modbus_close(context)
        modbus_free(context)
    }

    public func readInputRegisters(_ address: Int, count: Int) throws(ModbusError) -> [UInt16] {
        try readRegisters("read input registers \(address)+\(count)", count) { modbus_read_input_registers(context, Int32(address), Int32(count), $0) }
    }

    public func readHoldingRegisters(_ address: Int, count: Int) throws(ModbusError) -> [UInt16] {
        try readRegisters("read holding registers \(address)+\(count)", count) { modbus_read_registers(context, Int32(address), Int32(count), $0) }
    }

    public func readCoils(_ address: Int, count: Int) throws(ModbusError) -> [Bool] {
        try readBits("read coils \(address)+\(count)", count) { modbus_read_bits(context, Int32(address), Int32(count), $0) }
    }

    public func readDiscreteInputs(_ address: Int, count: Int) throws(ModbusError) -> [Bool] {
        try readBits("read discrete inputs \(address)+\(count)", count) { modbus_read_input_bits(context, Int32(address), Int32(count), $0) }
    }

    public func writeCoil(_ address: Int, _ value: Bool) throws(ModbusError) {
        guard modbus_write_bit(context, Int32(address), value ? 1 : 0) == 1 else { throw ModbusError.last("write coil \(address)") }
    }

    public func writeRegister(_ address: Int, _ value: UInt16) throws(ModbusError) {
        guard modbus_write_register(context, Int32(address), value) == 1 else { throw ModbusError.last("write register \(address)") }
    }

    public func writeRegisters(_ address: Int, _ values: [UInt16]) throws(ModbusError) {
        let written = values.withUnsafeBufferPointer { modbus_write_registers(context, Int32(address), Int32(values.count), $0.baseAddress) }
        guard written == values.count else { throw ModbusError.last("write registers \(address)+\(values.count)") }
    }

    private func readRegisters(_ operation: String, _ count: Int,
                               _ call: (UnsafeMutablePointer<UInt16>) -> Int32) throws(ModbusError) -> [UInt16] {
        var values = [UInt16](repeating: 0, count: max(count, 1))
        let read = values.withUnsafeMutableBufferPointer { call($0.baseAddress!) }
        guard read == count else { throw ModbusError.last(operation) }
        return Array(values.prefix(count))
    }

    private func readBits(_ operation: String, _ count: Int, _ call: (UnsafeMutablePointer<UInt8>) -> Int32) throws(ModbusError) -> [Bool] {
        var values = [UInt8](repeating: 0, count: max(count, 1))
        let read = values.withUnsafeMutableBufferPointer { call($0.baseAddress!) }
        guard read == count else { throw ModbusError.last(operation) }
        return values.prefix(count).map { $0 != 0 }
    }
}

extension Array where Element == UInt16 {
    /// Two registers, high word first, as one signed 32-bit value (the test port's word order).
    public func int32(at index: Int) -> Int32 { Int32(bitPattern: UInt32(self[index]) << 16 | UInt32(self[index + 1])) }
    public func uint32(at index: Int) -> UInt32 { UInt32(self[index]) << 16 | UInt32(self[index + 1]) }
}
