import AlarmRuntime
import AlarmSimulation
import Glibc
import Logging
import Modbus
import PosixIO
import Synchronization

/// The simulator as a rig target: the simulated receiving centre and the daemon on a HIL board, and a
/// simulated rig I/O module — a Modbus server whose relay coils are wired to the simulated button (the
/// daemon's control socket), the daemon's power (SIGKILL, then a restart) and the emulated modem (hang).
/// Scenarios then drive it exactly as they drive a prototype on a bench.
public final class SimulatedRig: @unchecked Sendable {
    let board: Board
    let boardPath: String
    let rig: RigFile
    let binDirectory: String
    let logs: String
    let logger: Logger
    private let state = Mutex<(daemon: ChildProcess?, centre: ChildProcess?)>((nil, nil))
    private var ioModule: ModbusServer?

    public init(boardPath: String, rig: RigFile, binDirectory: String, logs: String, logger: Logger) throws {
        board = try Board.load(path: boardPath)
        guard board.kind != .device else { throw RigFailure("\(boardPath) is a device board; --simulate needs a simulator or hil board") }
        guard board.testPort != nil else { throw RigFailure("\(boardPath) has no testPort section") }
        self.boardPath = boardPath
        self.rig = rig
        self.binDirectory = binDirectory
        self.logs = logs
        self.logger = logger
        _ = try StorageDirectory(path: logs)
    }

    /// The I/O module's coils, as the rig file numbers them.
    public func startIOModule() throws {
        guard case .tcp(let host, let port)? = rig.io else { throw RigFailure("\(rig.file): the simulated I/O module needs io.modbus \"tcp://HOST:PORT\"") }
        let coils = (rig.relays.values.max() ?? 0) + 1
        let relays = rig.relays
        let server = try ModbusServer(endpoint: .tcp(host: host, port: port),
                                      layout: ModbusLayout(coils: coils, discreteInputs: 0, holdingRegisters: 0, inputRegisters: 0,
                                                           writableCoils: 0..<coils),
                                      logger: logger, refresh: { _ in },
                                      onWrite: { [self] writes in
                                          for case .coil(let address, let on) in writes {
                                              guard let relay = relays.first(where: { $0.value == address })?.key else { continue }
                                              wire(relay, on)
                                          }
                                      })
        server.start()
        ioModule = server
    }

    func wire(_ relay: RigFile.Relay, _ on: Bool) {
        switch relay {
        case .button: control(["sim", on ? "press" : "release"])
        case .powerCut:
            if on {
                // Power gone: no goodbye, no flush — exactly what SIGKILL does to a process.
                if let daemon = state.withLock({ $0.daemon }) {
                    daemon.signal(SIGKILL)
                    _ = try? daemon.wait(timeoutMilliseconds: 5000)
                }
                state.withLock { $0.daemon = nil }
            } else if state.withLock({ $0.daemon }) == nil {
                do { try startDaemon() } catch { logger.error("simulated rig: the daemon did not restart: \(error)") }
            }
        case .modemFault:
            if on { control(["sim", "modem-hang"]) }
        }
    }

    func control(_ arguments: [String]) {
        do {
            let client = try ControlClient(socketPath: board.controlSocketPath)
            let response = try client.request(ControlRequest(command: arguments[0], arguments: Array(arguments.dropFirst())))
            if !response.ok { logger.warning("simulated rig: \(arguments.joined(separator: " ")) refused: \(response.error ?? "")") }
        } catch {
            logger.warning("simulated rig: \(arguments.joined(separator: " ")) failed: \(error)")
        }
    }

    /// A fresh device for the next scenario: the centre and daemon restarted on empty storage.
    public func restartFresh() throws {
        stopProcesses()
        if (try? ModbusClient.tcp(host: rig.testPort.host, port: rig.testPort.port, timeout: .milliseconds(200))) != nil {
            throw RigFailure("something already answers on the test port \(rig.testPort.host):\(rig.testPort.port) — a daemon left over from an earlier run? (pgrep -fa alarmd)")
        }
        try Self.removeTree(board.storagePath)
        try startCentre()
        try startDaemon()
    }

    func startCentre() throws {
        guard let reporting = board.reporting, let (_, port) = board.roles[.reportLink]?.hostAndPort,
              board.roles[.reportLink]?.scheme.hasPrefix("dc09") == true else { return }
        var arguments = ["--dc09", "--port", "\(port)", "--account", reporting.account, "--key-encoding", reporting.keyEncoding]
        if let keyFile = reporting.keyFile {
            try Self.ensureKey(keyFile, encoding: reporting.keyEncoding)
            arguments += ["--key-file", keyFile]
        }
        if let smsKey = reporting.smsKeyFile { try Self.ensureKey(smsKey, encoding: "binary-hex") }
        let log = try FileDescriptor.open("\(logs)/centre.log", O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        defer { try? log.close() }
        let centre = try ChildProcess.spawn("\(binDirectory)/alarm-centre", arguments, stdout: log, stderr: log)
        state.withLock { $0.centre = centre }
    }

    func startDaemon() throws {
        let log = try FileDescriptor.open("\(logs)/alarmd.log", O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        defer { try? log.close() }
        let daemon = try ChildProcess.spawn("\(binDirectory)/alarmd-sim", ["--board", boardPath, "--log-level", "info"], stdout: log, stderr: log)
        state.withLock { $0.daemon = daemon }
    }

    func stopProcesses() {
        let (daemon, centre) = state.withLock { state in
            defer { state = (nil, nil) }
            return state
        }
        _ = daemon?.stop(graceMilliseconds: 3000)
        _ = centre?.stop(graceMilliseconds: 3000)
    }

    public func stop() {
        ioModule?.stop()
        ioModule = nil
        stopProcesses()
    }

    /// The simulated world's DC-09 key, generated once, owner-only, shared by the device and the centre.
    static func ensureKey(_ path: String, encoding: String) throws {
        if (try? SecretFile.read(path, limit: 256)) != nil { return }
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789ABCDEF".utf8)
        let key = (0..<(encoding == "binary-hex" ? 64 : 32)).map { _ in digits[Int.random(in: 0..<16, using: &generator)] }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let directory = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
        try StorageDirectory(path: directory.isEmpty ? "/" : directory).replaceAtomically(String(parts.last ?? ""), with: key)
    }

    static func removeTree(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            let directory = try StorageDirectory(path: path)
            for name in try directory.names() { try removeTree(directory.filePath(name)) }
            guard rmdir(path) == 0 else { throw Errno.current }
        } else {
            guard unlink(path) == 0 else { throw Errno.current }
        }
    }
}

public struct RigFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
