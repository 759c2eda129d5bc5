import ALSA
import ATModem
import AlarmCore
import BoardIO
import GPSD
import HAL
import LinuxBackends
import Logging
import ModemEmulator
import PosixIO
import SecureStore
import SimBackends

/// The simulated backends of a running device, reachable through the control socket
/// (`alarmctl sim …`). Roles served by real backends are nil here.
public struct SimWorld: Sendable {
    public var button: SimButton?
    public var modem: SimModem?
    public var position: SimPositionSource?
    public var reportLink: SimReportLink?
    public var audio: SimAudio?
    public var vibrator: SimVibrator?
    public var power: SimPower?
    public var amplifierEnable: SimOutputLine?
    /// The byte-level modem emulator behind `pty:sim`.
    public var emulator: ModemEmulator?
    public init() {}
}

public struct AssembledDevice: Sendable {
    public var runtime: DeviceRuntime
    public var simulation: SimWorld
    /// The AT driver, when the modem role is a serial line or the emulator's pty.
    public var modemDriver: ATModemDriver?
    /// The HIL test port, when the board enables one.
    public var testPort: TestPort?
    var afterStart: [@Sendable () -> Void] = []
    var teardown: [@Sendable () -> Void] = []

    /// Starts the runtime, then opens the ports whose first bytes must find the runtime listening.
    public func start() throws(HALError) {
        try runtime.start()
        for hook in afterStart { hook() }
    }

    /// Closes ports and removes what the device created (the emulator's pty link).
    public func stop() {
        for hook in teardown { hook() }
    }
}

/// Builds the backends a board file names, role by role, and the runtime around them.
/// The only place that knows which URI scheme means which backend.
public enum DeviceAssembly {
    public static func assemble(_ board: Board, clock: any Clock, logger: Logger,
                                store: (any RecordStore)? = nil, journal: (any JournalStore)? = nil,
                                eventLoop: DeviceRuntime.EventLoop = .callerThread) throws(BoardError) -> AssembledDevice {
        var sim = SimWorld()

        func unsupported(_ role: Role, _ uri: PortURI, _ supported: String) -> BoardError {
            BoardError(file: board.file, key: "roles.\(role.rawValue)",
                       problem: "no backend for \"\(uri)\" (expected \(supported))")
        }
        func uri(_ role: Role) -> PortURI? { board.roles[role] }

        // Modem first: the simulated report link needs to know whether the simulated network carries data.
        guard let modemURI = uri(.modem) else {
            throw BoardError(file: board.file, key: "roles.modem", problem: "missing")
        }
        let modem = try assembleModem(board, modemURI, clock: clock, logger: logger, sim: &sim)

        let button: any ButtonInput
        var buttonTeardown: [@Sendable () -> Void] = []
        guard let buttonURI = uri(.button) else { throw BoardError(file: board.file, key: "roles.button", problem: "missing") }
        switch buttonURI.scheme {
        case "sim":
            let simButton = SimButton(clock: clock)
            sim.button = simButton
            button = simButton
        case "input", "gpio":
            // Board I/O through the kernel (BoardIOAssembly.swift, docs/board-io.md).
            guard let (kernelButton, stop) = try boardIOButton(board, buttonURI, clock: clock, logger: logger) else {
                throw unsupported(.button, buttonURI, BoardIOPort.buttonForms)
            }
            button = kernelButton
            buttonTeardown.append(stop)
        default: throw unsupported(.button, buttonURI, "\"sim:\", " + BoardIOPort.buttonForms)
        }

        var position: any PositionSourceDevice
        var backendTeardown: [@Sendable () -> Void] = []
        guard let positionURI = uri(.position) else { throw BoardError(file: board.file, key: "roles.position", problem: "missing") }
        switch positionURI.scheme {
        case "sim":
            let source = SimPositionSource(clock: clock, route: board.simulation.route)
            sim.position = source
            position = source
        case "gpsd":
            guard let (host, port) = positionURI.hostAndPort else {
                throw BoardError(file: board.file, key: "roles.position",
                                 problem: "expected gpsd://HOST:PORT, e.g. gpsd://127.0.0.1:2947, got \"\(positionURI)\"")
            }
            let source = GPSDPositionSource(host: host, port: port, clock: clock, logger: logger)
            position = source
            backendTeardown.append { source.stop() }
        case "modem" where positionURI.target == "gnss":
            // The modem's own GNSS asked over AT: for boards that wire only the modem's UART (docs/gps.md).
            guard let driver = modem.driver else {
                throw BoardError(file: board.file, key: "roles.position",
                                 problem: "\"modem:gnss\" needs an AT modem (serial: or pty:sim)")
            }
            do {
                let source = try ModemGNSSPositionSource(driver: driver, clock: clock, logger: logger)
                position = source
                backendTeardown.append { source.stop() }
            } catch {
                throw BoardError(file: board.file, key: "roles.position",
                                 problem: "\"modem:gnss\" needs a modem profile with a GNSS query (quectel-ec25 or "
                                     + "simcom-sim7600): \(error.message)")
            }
        default: throw unsupported(.position, positionURI, "\"sim:\", \"gpsd://HOST:PORT\" or \"modem:gnss\"")
        }

        // GNSS, the network and the system clock (with the kernel's NTP verdict) vote on the UTC that reports carry,
        // each judged for plausibility first (docs/time.md). Only the real system clock has a kernel verdict.
        let realSystemClock = clock is SystemClock
        let kernel: @Sendable () -> KernelClockStatus = { realSystemClock ? KernelClock.status() : .unknown }
        let utc = UTCClock(clock: clock, logger: logger, kernel: kernel)
        position = TimeTappingPositionSource(inner: position, utc: utc, clock: clock)
        if let driver = modem.driver { driver.onNetworkTime { time, at in utc.observe(.network, utc: time, at: at) } }

        let reportLink: any ReportLink
        var pathLost: (@Sendable () -> Void)?
        guard let linkURI = uri(.reportLink) else { throw BoardError(file: board.file, key: "roles.reportLink", problem: "missing") }
        switch linkURI.scheme {
        case "tcp":
            guard let (host, port) = linkURI.hostAndPort else {
                throw BoardError(file: board.file, key: "roles.reportLink",
                                 problem: "expected tcp://HOST:PORT, got \"\(linkURI)\"")
            }
            let link = TCPReportLink(host: host, port: port, deviceID: board.deviceID, clock: clock,
                                     logger: logger, maximumIdle: .seconds(60),
                                     unansweredLimit: board.alarm.reportAckTimeout,
                                     acceptsCommands: board.kind != .device, interface: board.data?.interface)
            pathLost = { link.pathLost() }
            reportLink = link
        case "dc09+tcp", "dc09+udp":
            let link = try assembleDC09Link(board, linkURI, clock: clock, logger: logger, utc: utc)
            pathLost = { link.pathLost() }
            backendTeardown.append { link.stop() }
            reportLink = link
        case "sim":
            let link = SimReportLink(clock: clock, dataAvailable: modem.dataAvailable)
            sim.reportLink = link
            reportLink = link
        default: throw unsupported(.reportLink, linkURI, "\"dc09+tcp://HOST:PORT\", \"dc09+udp://HOST:PORT\", \"tcp://HOST:PORT\" or \"sim:\"")
        }

        var audio: (any AudioCapture)?
        var audioRate = 8000
        if let audioURI = uri(.audio) {
            switch audioURI.scheme {
            case "sim":
                let simAudio = SimAudio(clock: clock, framePeriod: board.defaultCapturePeriod)
                sim.audio = simAudio
                audio = simAudio
            case "alsa":
                let capture = try assembleALSA(board, audioURI, clock: clock, logger: logger)
                audioRate = capture.sampleRate
                audio = capture
            default:
                throw unsupported(.audio, audioURI, "\"alsa:PCM?rate=8000&channels=1[&period=FRAMES][&config=FILE]\" or \"sim:\"")
            }
        }
        var vibrator: (any Vibrator)?
        if let vibratorURI = uri(.vibrator) {
            if vibratorURI.scheme == "sim" {
                let simVibrator = SimVibrator()
                sim.vibrator = simVibrator
                vibrator = simVibrator
            } else if let line = try boardIOOutputLine(board, .vibrator, vibratorURI) {
                vibrator = LineVibrator(line: line, clock: clock, logger: logger)
            } else {
                throw unsupported(.vibrator, vibratorURI, "\"sim:\", " + BoardIOPort.outputForms)
            }
        }
        var power: (any PowerMonitor)?
        if let powerURI = uri(.power) {
            switch (powerURI.scheme, powerURI.target) {
            case ("sim", _):
                let simPower = SimPower()
                sim.power = simPower
                power = simPower
            case ("modem", "cbc"):
                guard let driver = modem.driver else {
                    throw BoardError(file: board.file, key: "roles.power",
                                     problem: "\"modem:cbc\" needs an AT modem (serial: or pty:sim)")
                }
                power = driver
            case ("power-supply", _):
                guard let monitor = try boardIOPower(board, powerURI, clock: clock, logger: logger) else {
                    throw unsupported(.power, powerURI, BoardIOPort.powerForms)
                }
                backendTeardown.append { monitor.stop() }
                power = monitor
            default:
                throw unsupported(.power, powerURI, "\"sim:\", \"modem:cbc\" or " + BoardIOPort.powerForms)
            }
        }
        var amplifier: (any OutputLine)?
        if let lineURI = uri(.amplifierEnable) {
            if lineURI.scheme == "sim" {
                let line = SimOutputLine()
                sim.amplifierEnable = line
                amplifier = line
            } else if let line = try boardIOOutputLine(board, .amplifierEnable, lineURI) {
                amplifier = line
            } else {
                throw unsupported(.amplifierEnable, lineURI, "\"sim:\", " + BoardIOPort.outputForms)
            }
        }

        let recordStore: any RecordStore
        var alarmJournal = journal
        if let store {
            recordStore = store
        } else {
            let files: FileRecordStore
            do {
                files = FileRecordStore(directory: try StorageDirectory(path: board.storagePath).subdirectory("state"))
            } catch {
                throw BoardError(file: board.file, key: "storage",
                                 problem: "cannot use \"\(board.storagePath)\" as the storage directory: \(error)")
            }
            let key: StorageKey
            do {
                key = try StorageKey.load(path: board.storageKeyPath, createIfMissing: board.kind != .device)
            } catch {
                throw BoardError(file: board.file, key: "storageKey", problem: error.description)
            }
            recordStore = SealedRecordStore(sealing: files, with: key)
            if alarmJournal == nil, let directory = try? StorageDirectory(path: board.storagePath).subdirectory("state") {
                alarmJournal = SealedJournal(sealing: FileJournal(directory: directory), with: key)
                if board.simulation.journalFsyncDelay > .zero, let journal = alarmJournal {
                    alarmJournal = SlowJournal(wrapping: journal, delay: board.simulation.journalFsyncDelay)
                }
            }
        }

        // The last trusted time raises the clock's floor; it is persisted in the same store (at most once an hour).
        utc.attach(store: recordStore)

        // With a test port the indicators and the button are watched on their way through (docs/hil.md).
        let mirrors = board.testPort.map { _ in
            (vibrator: vibrator.map { MirroredVibrator($0, clock: clock) }, amplifier: amplifier.map { MirroredOutputLine($0) },
             button: MirroredButton(button))
        }
        var backends = Backends(button: mirrors?.button ?? button, position: position, network: modem.network, calls: modem.calls,
                                sms: modem.sms, reportLink: reportLink, audio: audio,
                                vibrator: mirrors?.vibrator ?? vibrator, power: power,
                                amplifierEnable: mirrors?.amplifier ?? amplifier, store: recordStore)
        backends.alarmAwareModem = modem.alarmAware
        backends.journal = alarmJournal
        if let voiceURI = uri(.voiceOut) {
            guard voiceURI.scheme == "alsa", audio != nil else {
                throw unsupported(.voiceOut, voiceURI, "\"alsa:PCM[?config=FILE]\" together with an audio role")
            }
            var configText: String?
            if let file = voiceURI.query["config"] {
                guard let bytes = (try? StorageDirectory.readFile(file)) ?? nil else {
                    throw BoardError(file: board.file, key: "roles.voiceOut", problem: "config \(file): cannot be read")
                }
                configText = String(decoding: bytes, as: UTF8.self)
            }
            let pcm = voiceURI.target
            let text = configText
            backends.voiceBridge = AudioBridge(open: { () throws(HALError) -> any VoiceOutput in
                try ALSAPlayback(pcm: pcm, configText: text, sampleRate: 8000)
            }, sampleRate: 8000, logger: logger)
        }
        if audio != nil { backends.evidence = try assembleEvidence(board, sampleRate: audioRate, logger: logger) }
        let smsKey = try smsKey(board)
        backends.smsText = smsFormatter(board, key: smsKey)
        let runtime = DeviceRuntime(machine: AlarmMachine(settings: board.alarm),
                                    identity: .init(deviceID: board.deviceID, boardName: board.name),
                                    clock: clock, backends: backends, haptics: board.haptics,
                                    silence: board.silence, logger: logger, eventLoop: eventLoop)
        // A receiver whose date is implausible is reported once as device trouble.
        utc.onReceiverTimeTrouble { _ in runtime.post(.receiverTimeHealth(false)) }
        runtime.attachTimeStatus { utc.statusLines() }
        if let smsKey, let driver = modem.driver {
            let gate = SMSCommandGate(deviceID: board.deviceID, key: smsKey, centreNumbers: board.alarm.centreNumbers,
                                      store: recordStore, logger: logger, refused: { runtime.centreCommandRefused($0) }) { command in
                runtime.post(.centre(command))
            }
            driver.onIncomingSMS { sender, text in gate.received(from: sender, text: text) }
        }
        var afterStart = modem.afterStart
        var teardown = modem.teardown + backendTeardown + buttonTeardown
        if let data = board.data, let driver = modem.driver {
            let boundLink = pathLost
            let supervisor = DataSupervisor(
                interface: data.interface, dataDuringCalls: data.dataDuringCalls, logger: logger,
                verdict: { path, detail in runtime.dataPathChanged(path, detail: detail) },
                interfaceLost: { boundLink?() })
            // Before the port opens: the driver's first data status must find the supervisor listening.
            afterStart.insert({ supervisor.start(modem: driver) }, at: 0)
            teardown.append { supervisor.stop() }
        }
        var testPort: TestPort?
        if let settings = board.testPort, let mirrors {
            let driver = modem.driver
            do {
                let port = try TestPort(settings: settings, runtime: runtime, clock: clock, logger: logger,
                                        vibrator: mirrors.vibrator, amplifier: mirrors.amplifier, button: mirrors.button,
                                        modemRestarts: { driver?.restartCount ?? 0 })
                afterStart.append { port.start() }
                teardown.append { port.stop() }
                testPort = port
            } catch {
                throw BoardError(file: board.file, key: "testPort.listen", problem: "cannot open the test port: \(error)")
            }
        }
        var device = AssembledDevice(runtime: runtime, simulation: sim, modemDriver: modem.driver,
                                     afterStart: afterStart, teardown: teardown)
        device.testPort = testPort
        return device
    }
}
