import AlarmCodecs
import AlarmCore
import CentreSMS
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
                                                               deviceID: board.deviceID,
                                                               identity: ["fw=\(Firmware.version)"]
                                                                   + (board.provisioning.map { ["prov=\($0.digest)"] } ?? [])),
                                        key: key)
        settings.interface = board.data?.interface
        settings.supervisionInterval = reporting.supervisionInterval
        settings.utc = { utc.wallTime }
        return DC09ReportLink(settings: settings, clock: clock, logger: logger)
    }
}

extension DeviceAssembly {
    /// The fallback SMS text: sealed with the device's SMS key unless the board asks for plain text. Simulator
    /// boards without a key file get one generated under their storage (like their storage key).
    static func smsFormatter(_ board: Board, key: SMSKey?) -> (@Sendable (Report, Int?, Int?) throws -> String)? {
        guard board.reporting?.smsFormat != "plain", let key else { return nil }
        let deviceID = board.deviceID
        return { report, battery, signal in try SMSReport.encode(report, deviceID: deviceID, key: key, battery: battery, signal: signal) }
    }

    /// The device's SMS key: the board's file, or on simulator boards a generated one; nil when the board neither
    /// sends sealed SMS nor takes commands by SMS.
    static func smsKey(_ board: Board) throws(BoardError) -> SMSKey? {
        guard board.reporting?.smsKeyFile != nil
                || (board.kind == .simulator && board.alarm.smsFallbackNumber != nil && board.reporting?.smsFormat != "plain") else {
            return nil
        }
        let path = board.reporting?.smsKeyFile ?? (board.storagePath.hasSuffix("/") ? board.storagePath : board.storagePath + "/") + "sms.key"
        return try loadSMSKey(path, board: board, createIfMissing: board.reporting?.smsKeyFile == nil && board.kind == .simulator)
    }

    static func loadSMSKey(_ path: String, board: Board, createIfMissing: Bool) throws(BoardError) -> SMSKey {
        func problem(_ text: String) -> BoardError { BoardError(file: board.file, key: "reporting.smsKeyFile", problem: "\(path): \(text)") }
        var bytes: [UInt8]
        do {
            bytes = try SecretFile.read(path, limit: 256)
        } catch .missing where createIfMissing {
            var generator = SystemRandomNumberGenerator()
            let digits = Array("0123456789ABCDEF".utf8)
            bytes = (0..<64).map { _ in digits[Int.random(in: 0..<16, using: &generator)] }
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            let directory = components.count > 1 ? components.dropLast().joined(separator: "/") : "."
            do {
                try StorageDirectory(path: directory.isEmpty ? "/" : directory).replaceAtomically(String(components.last ?? ""), with: bytes)
            } catch {
                throw problem("cannot be created (\(error))")
            }
        } catch {
            throw problem(error.description)
        }
        do {
            return try SMSKey(text: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw problem(error.description)
        }
    }
}
