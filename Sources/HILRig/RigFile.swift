import AlarmRuntime
import Modbus
import PosixIO

/// A rig: how it reaches the device's test port and which coils of its Modbus I/O module do what (docs/hil.md).
public struct RigFile: Sendable {
    public enum Relay: String, Sendable, CaseIterable {
        /// Closes the button's contacts while set.
        case button
        /// Cuts the device's supply while set (wired on a normally-closed contact).
        case powerCut
        /// Cuts the modem's supply while set.
        case modemFault
    }

    public var file: String
    public var name: String
    public var testPort: (host: String, port: UInt16)
    public var io: ModbusEndpoint?
    /// The I/O module's unit id (Modbus TCP gateways and RTU buses both use it).
    public var ioUnit: Int32
    public var relays: [Relay: Int]

    public static func load(_ path: String) throws(BoardError) -> RigFile {
        let bytes: [UInt8]?
        do { bytes = try StorageDirectory.readFile(path) } catch { throw BoardError(file: path, key: "", problem: "cannot read: \(error)") }
        guard let bytes else { throw BoardError(file: path, key: "", problem: "no such rig file") }
        let document: JSONValue
        do { document = try JSONValue.parseJSON5(bytes) } catch { throw BoardError(file: path, key: "", problem: "not valid JSON5: \(error)") }
        var r = try ConfigReader(file: path, path: "", value: document)
        let name = try r.required("name", "the rig's name") { (r, k) throws(BoardError) in try r.string(k) }
        var device = try r.required("device", "an object with the device's testPort") { (r, k) throws(BoardError) in try r.object(k) }
        let portText = try device.required("testPort", "\"tcp://HOST:PORT\"") { (r, k) throws(BoardError) in try r.string(k) }
        guard let uri = PortURI(portText), uri.scheme == "tcp", let testPort = uri.hostAndPort else {
            throw device.error("testPort", "expected \"tcp://HOST:PORT\", got \"\(portText)\"")
        }
        try device.rejectUnknownKeys()
        var io: ModbusEndpoint?
        var ioUnit: Int32 = 1
        var relays: [Relay: Int] = [:]
        if var i = try r.object("io") {
            let text = try i.required("modbus", "\"tcp://HOST:PORT\" or \"rtu:/dev/ttyUSB0?baud=9600\"") { (r, k) throws(BoardError) in try r.string(k) }
            let unit = Int32(try i.integer("unit", in: 1...247) ?? 1)
            ioUnit = unit
            guard let uri = PortURI(text) else { throw i.error("modbus", "expected a Modbus URI, got \"\(text)\"") }
            switch uri.scheme {
            case "tcp":
                guard let (host, port) = uri.hostAndPort else { throw i.error("modbus", "expected \"tcp://HOST:PORT\", got \"\(text)\"") }
                io = .tcp(host: host, port: port)
            case "rtu":
                guard uri.target.hasPrefix("/"), let baud = Int32(uri.query["baud"] ?? "9600"), baud > 0 else {
                    throw i.error("modbus", "expected \"rtu:/dev/DEVICE?baud=N\", got \"\(text)\"")
                }
                io = .rtu(device: uri.target, baud: baud, unit: unit)
            default:
                throw i.error("modbus", "expected \"tcp://HOST:PORT\" or \"rtu:/dev/DEVICE?baud=N\", got \"\(text)\"")
            }
            try i.rejectUnknownKeys()
            var relayReader = try r.required("relays", "an object mapping button, powerCut, modemFault to coil addresses") {
                (r, k) throws(BoardError) in try r.object(k)
            }
            for relay in Relay.allCases {
                if let coil = try relayReader.integer(relay.rawValue, in: 0...65535) { relays[relay] = coil }
            }
            try relayReader.rejectUnknownKeys()
        }
        try r.rejectUnknownKeys()
        return RigFile(file: path, name: name, testPort: testPort, io: io, ioUnit: ioUnit, relays: relays)
    }
}
