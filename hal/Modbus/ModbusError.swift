import CModbus
import Glibc

/// A failed Modbus call: a transport error (errno) or an exception the other side answered with.
public struct ModbusError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The peer answered with a Modbus exception (1 illegal function, 2 illegal data address, 3 illegal value, …).
        case exception(UInt8)
        case timedOut
        case connection
        case other
    }

    public let operation: String
    public let kind: Kind
    public let message: String

    public init(_ operation: String, kind: Kind, message: String) {
        self.operation = operation
        self.kind = kind
        self.message = message
    }

    /// From libmodbus's errno after a failed call.
    static func last(_ operation: String) -> ModbusError {
        let code = errno
        let message = String(cString: modbus_strerror(code))
        let base = Int32(MODBUS_ENOBASE)
        if code > base, code <= base + 11 { return ModbusError(operation, kind: .exception(UInt8(code - base)), message: message) }
        switch code {
        case ETIMEDOUT: return ModbusError(operation, kind: .timedOut, message: message)
        case ECONNREFUSED, ECONNRESET, EPIPE, EBADF, ENOTCONN: return ModbusError(operation, kind: .connection, message: message)
        default: return ModbusError(operation, kind: .other, message: message)
        }
    }

    public var description: String { "\(operation): \(message)" }
}

/// The four Modbus data areas.
public enum ModbusArea: String, Sendable, CaseIterable {
    case coils, discreteInputs, holdingRegisters, inputRegisters
}
