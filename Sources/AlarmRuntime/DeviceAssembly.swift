import ALSA
import ATModem
import AlarmCore
import BoardIO
import GPSD
import HAL
import LinuxBackends
import Logging
import PosixIO
import SecureStore

public struct AssembledDevice: Sendable {
    public var runtime: DeviceRuntime
    /// The AT driver, when the modem role is a serial line or the emulator's pty.
    public var modemDriver: ATModemDriver?
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
                                eventLoop: DeviceRuntime.EventLoop = .callerThread,
                                extension extra: (any AssemblyExtension)? = nil) throws(BoardError) -> AssembledDevice {

        func unsupported(_ role: Role, _ uri: PortURI, _ supported: String) -> BoardError {
            BoardError(file: board.file, key: "roles.\(role.rawValue)",
                       problem: "no backend for \"\(uri)\" (expected \(supported))")
        }
        func uri(_ role: Role) -> PortURI? { board.roles[role] }
        var context = AssemblyContext(clock: clock, logger: logger, modem: nil)
        /// A role's backend from the extension (developer and HIL builds), when the device build has none.
        func extraBackend(_ role: Role, _ uri: PortURI) throws(BoardError) -> ExtraBackend? {
            try extra?.backend(for: role, uri, board: board, context: context)
        }

        // Modem first: the simulated report link needs to know whether the simulated network carries data.
        guard let modemURI = uri(.modem) else {
            throw BoardError(file: board.file, key: "roles.modem", problem: "missing")
        }
        let modem: AssembledModem
        if let real = try assembleModem(board, modemURI, clock: clock, logger: logger) {
            modem = real
        } else if case .modem(let extraModem)? = try extraBackend(.modem, modemURI) {
            modem = extraModem
        } else {
            throw unsupported(.modem, modemURI, "\"serial:/dev/…?baud=…\"")
        }
        context.modem = modem

        let button: any ButtonInput
        var buttonTeardown: [@Sendable () -> Void] = []
        guard let buttonURI = uri(.button) else { throw BoardError(file: board.file, key: "roles.button", problem: "missing") }
        switch buttonURI.scheme {
        case "input", "gpio":
            // Board I/O through the kernel (BoardIOAssembly.swift, docs/board-io.md).
            guard let (kernelButton, stop) = try boardIOButton(board, buttonURI, clock: clock, logger: logger) else {
                throw unsupported(.button, buttonURI, BoardIOPort.buttonForms)
            }
            button = kernelButton
            buttonTeardown.append(stop)
        default:
            guard case .button(let extraButton)? = try extraBackend(.button, buttonURI) else {
                throw unsupported(.button, buttonURI, BoardIOPort.buttonForms)
            }
            button = extraButton
        }

        var position: any PositionSourceDevice
        var backendTeardown: [@Sendable () -> Void] = []
        guard let positionURI = uri(.position) else { throw BoardError(file: board.file, key: "roles.position", problem: "missing") }
        switch positionURI.scheme {
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
        default:
            guard case .position(let extraSource)? = try extraBackend(.position, positionURI) else {
                throw unsupported(.position, positionURI, "\"gpsd://HOST:PORT\" or \"modem:gnss\"")
            }
            position = extraSource
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
        default:
            guard case .reportLink(let extraLink)? = try extraBackend(.reportLink, linkURI) else {
                throw unsupported(.reportLink, linkURI, "\"dc09+tcp://HOST:PORT\", \"dc09+udp://HOST:PORT\" or \"tcp://HOST:PORT\"")
            }
            reportLink = extraLink
        }

        var audio: (any AudioCapture)?
        var audioRate = 8000
        if let audioURI = uri(.audio) {
            switch audioURI.scheme {
            case "alsa":
                let capture = try assembleALSA(board, audioURI, clock: clock, logger: logger)
                audioRate = capture.sampleRate
                audio = capture
            default:
                guard case .audio(let extraAudio)? = try extraBackend(.audio, audioURI) else {
                    throw unsupported(.audio, audioURI, "\"alsa:PCM?rate=8000&channels=1[&period=FRAMES][&config=FILE]\"")
                }
                audio = extraAudio
            }
        }
        var vibrator: (any Vibrator)?
        if let vibratorURI = uri(.vibrator) {
            if let line = try boardIOOutputLine(board, .vibrator, vibratorURI) {
                vibrator = LineVibrator(line: line, clock: clock, logger: logger)
            } else if case .vibrator(let extraVibrator)? = try extraBackend(.vibrator, vibratorURI) {
                vibrator = extraVibrator
            } else {
                throw unsupported(.vibrator, vibratorURI, BoardIOPort.outputForms)
            }
        }
        var power: (any PowerMonitor)?
        if let powerURI = uri(.power) {
            switch (powerURI.scheme, powerURI.target) {
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
                guard case .power(let extraPower)? = try extraBackend(.power, powerURI) else {
                    throw unsupported(.power, powerURI, "\"modem:cbc\" or " + BoardIOPort.powerForms)
                }
                power = extraPower
            }
        }
        var amplifier: (any OutputLine)?
        if let lineURI = uri(.amplifierEnable) {
            if let line = try boardIOOutputLine(board, .amplifierEnable, lineURI) {
                amplifier = line
            } else if case .outputLine(let extraLine)? = try extraBackend(.amplifierEnable, lineURI) {
                amplifier = extraLine
            } else {
                throw unsupported(.amplifierEnable, lineURI, BoardIOPort.outputForms)
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
            }
        }

        // The last trusted time raises the clock's floor; it is persisted in the same store (at most once an hour).
        utc.attach(store: recordStore)

        var backends = Backends(button: button, position: position, network: modem.network, calls: modem.calls,
                                sms: modem.sms, reportLink: reportLink, audio: audio,
                                vibrator: vibrator, power: power, amplifierEnable: amplifier, store: recordStore)
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
        if board.testPort != nil, extra == nil {
            throw BoardError(file: board.file, key: "testPort",
                             problem: "this alarmd is the device build: it has no test port (the HIL build, alarmd-sim, has)")
        }
        extra?.decorate(&backends, board: board, clock: clock)
        let runtime = DeviceRuntime(machine: AlarmMachine(settings: board.alarm),
                                    identity: .init(deviceID: board.deviceID, boardName: board.name,
                                                    provisioning: board.provisioning?.summary),
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
        if let refused = board.provisioning?.candidateRefused {
            // Someone changed the bundle on the card: the centre hears of it (tamper), the alarm runs on the kept one.
            logger.critical("provisioning bundle refused; running on the last verified bundle", metadata: ["reason": "\(refused)"])
            afterStart.append { runtime.post(.provisioningRefused) }
        }
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
        if let extra {
            let hooks = try extra.attach(runtime: runtime, board: board, modemDriver: modem.driver, clock: clock, logger: logger)
            afterStart += hooks.afterStart
            teardown += hooks.teardown
        }
        let device = AssembledDevice(runtime: runtime, modemDriver: modem.driver, afterStart: afterStart, teardown: teardown)
        return device
    }
}
