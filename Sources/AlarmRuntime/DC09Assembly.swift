import AlarmCodecs
import AlarmCore
import DC09
import HAL
import LinuxBackends
import Logging
import PosixIO

extension DeviceAssembly {
    /// `dc09+tcp://HOST:PORT` / `dc09+udp://HOST:PORT` with the board's `reporting` section.
    static func assembleDC09Link(_ board: Board, _ uri: PortURI, clock: any Clock, logger: Logger,
                                 utc: UTCClock) throws(BoardError) -> DC09ReportLink {
        guard let reporting = board.reporting else {
            throw BoardError(file: board.file, key: "reporting", problem: "missing")
        }
        func endpoint(_ uri: PortURI, key: String) throws(BoardError) -> DC09Endpoint {
            guard let (host, port) = uri.hostAndPort else {
                throw BoardError(file: board.file, key: key, problem: "expected \(uri.scheme)://HOST:PORT, got \"\(uri)\"")
            }
            return DC09Endpoint(uri.scheme == "dc09+udp" ? .udp : .tcp, host: host, port: port)
        }
        var endpoints = [try endpoint(uri, key: "roles.reportLink")]
        if let secondary = reporting.secondary { endpoints.append(try endpoint(secondary, key: "reporting.secondary")) }
        var key: DC09Key?
        if let file = reporting.keyFile {
            let bytes: [UInt8]
            do {
                bytes = try SecretFile.read(file, limit: 256)
            } catch {
                throw BoardError(file: board.file, key: "reporting.keyFile", problem: "\(file): \(error.description)")
            }
            do {
                key = try DC09Key(text: String(decoding: bytes, as: UTF8.self),
                                  encoding: reporting.keyEncoding == "binary-hex" ? .binaryHex : .asciiHex)
            } catch {
                // What is wrong with the key, never the key.
                throw BoardError(file: board.file, key: "reporting.keyFile", problem: "\(file): \(error.description) for keyEncoding \"\(reporting.keyEncoding)\"")
            }
        }
        let account = DC09Account(receiver: reporting.receiver, prefix: reporting.prefix, account: reporting.account)
        var settings = DC09LinkSettings(endpoints: endpoints,
                                        composer: DC09Composer(account: account, format: reporting.format == "ADM-CID" ? .contactID : .siaDCS,
                                                               deviceID: board.deviceID),
                                        key: key)
        settings.interface = board.data?.interface
        settings.utc = { utc.wallTime }
        return DC09ReportLink(settings: settings, clock: clock, logger: logger)
    }
}
