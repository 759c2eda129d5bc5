import AlarmRuntime
import BenchHarness
import DC09
import Glibc
import PosixIO
import Provisioning
import SecureStore
import SimCentre
import SimTools

/// The footprint of the DEVICE build: `alarmd` (real backends only, device boards only) on a provisioned device board
/// whose every role is real and runs on this machine — the modem `serial:` on the pty of the out-of-process
/// `modem-emulator`, the position from a real gpsd fed by gpsfake, the button `input:` on a FIFO the bench writes
/// Linux `struct input_event` records into, DC-09 over loopback TCP with AES to a receiver in this process, and the
/// storage key, key files and operator-signed provisioning bundle made here as an operator would make them.
///
/// The `footprint.*` rows without `.device` measure the developer build `alarmd-sim` on simulator boards.
struct DeviceFootprintBench {
    var idleSeconds: Int
    var alarmSeconds = 15
    /// The device alarmd to run (default: the one beside alarm-bench).
    var daemonOverride: String?

    let work = "/tmp/alarm-bench-device-\(getpid())"
    static let deviceID = "BE-BENCH-DEV1"
    static let account = "5A1001"
    /// KEY_PROG1: the key the Pi's gpio-keys overlay reports for the alarm button.

    static let names = ["footprint.device.release-binary-size", "footprint.device.binary-size-swiftpm-release",
                        "footprint.device.idle-rss", "footprint.device.idle-cpu", "footprint.device.idle-wakeups",
                        "footprint.device.idle-working-set", "footprint.device.alarm-rss"]

    var binDirectory: String {
        let me = ChildProcess.executablePath()
        return String(me[..<(me.lastIndex(of: "/") ?? me.startIndex)])
    }
    /// The binary that ships (`make release`'s static one) when it has been built, else the release build beside.
    var daemonPath: String {
        if let daemonOverride { return daemonOverride }
        return access(Self.shipped, X_OK) == 0 ? Self.shipped : binDirectory + "/alarmd"
    }
    static let shipped = ".build-release/dist/alarmd"
    var emulatorPath: String { binDirectory + "/modem-emulator" }

    func run(_ harness: inout BenchmarkHarness) throws {
        guard Self.names.contains(where: harness.wants) else { return }
        _ = try StorageDirectory(path: work)
        defer { if getenv("ALARM_BENCH_KEEP") == nil { removeTree(work) } else { print("footprint.device: kept \(work)") } }
        binarySizes(&harness)
        let running = Self.names.dropFirst(2).filter(harness.wants)
        guard !running.isEmpty else { return }
        for path in [daemonPath, emulatorPath] where access(path, X_OK) != 0 {
            for name in running { harness.skip(name, definition: "", reason: "\(path) not built (make bench builds it)") }
            return
        }
        guard GPSFake.isAvailable else {
            for name in running { harness.skip(name, definition: "", reason: "gpsd/gpsfake not installed (make bench installs them)") }
            return
        }
        try measure(&harness)
    }

    // MARK: the binary

    func binarySizes(_ harness: inout BenchmarkHarness) {
        let name = "footprint.device.release-binary-size"
        let definition = "DEVICE build: size of `make release`'s alarmd (.build-release/dist/alarmd: static Swift runtime, -Osize, "
            + "stripped; MB = 2^20 bytes)"
        let goal = BenchmarkHarness.Goal.atMost(12, of: .max, "≤ 12 MB (device build)")
        if harness.wants(name) {
            if let size = Self.fileSize(".build-release/dist/alarmd") {
                let unstripped = Self.fileSize(".build-release/release/alarmd")
                harness.record(name, definition: definition, unit: "MB", samples: [BenchmarkHarness.megabytes(bytes: size)], goal: goal,
                               note: "stripped --strip-all as make release does; "
                                   + (unstripped.map { "\(mb(bytes: $0)) MB with symbols (.build-release/release/alarmd)" } ?? "unstripped copy not found"))
            } else {
                harness.skip(name, definition: definition, reason: "run make release (no .build-release/dist/alarmd)")
            }
        }
        // The alarmd `swift build -c release` puts beside alarm-bench: the Swift runtime linked dynamically, -O.
        let plain = "footprint.device.binary-size-swiftpm-release"
        guard harness.wants(plain) else { return }
        let plainDefinition = "DEVICE build, NOT what ships: `swift build -c release` alarmd beside alarm-bench (Swift runtime as "
            + "shared libraries, -O), a copy stripped with strip --strip-all (MB = 2^20 bytes)"
        let source = binDirectory + "/alarmd"
        let copy = work + "/alarmd.stripped"
        guard let unstripped = Self.fileSize(source) else {
            harness.skip(plain, definition: plainDefinition, reason: "\(source) not built")
            return
        }
        guard let strip = try? ChildProcess.spawn("strip", ["--strip-all", "-o", copy, source]),
              (try? strip.wait(timeoutMilliseconds: 60_000)) == 0, let stripped = Self.fileSize(copy) else {
            harness.skip(plain, definition: plainDefinition, reason: "strip failed on \(source)")
            return
        }
        harness.record(plain, definition: plainDefinition, unit: "MB", samples: [BenchmarkHarness.megabytes(bytes: stripped)],
                       note: "\(mb(bytes: unstripped)) MB with symbols; the Swift runtime is NOT in this file (libswiftCore, "
                           + "libFoundationEssentials, … are loaded from the toolchain): not comparable with the 12 MB goal")
    }

    // MARK: idle and alarm on a real-roles device board

    func measure(_ harness: inout BenchmarkHarness) throws {
        let store = try StorageDirectory(path: work)
        // The device's secrets, each owner-only (replaceAtomically writes 0600), as provisioning leaves them.
        let storageKey = work + "/storage.key"
        _ = try StorageKey.load(path: storageKey, createIfMissing: true)
        let dc09Hex = Self.randomHex(bytes: 16)
        try store.replaceAtomically("dc09.key", with: Array((dc09Hex + "\n").utf8))
        try store.replaceAtomically("sms.key", with: Array((Self.randomHex(bytes: 32) + "\n").utf8))
        let receiverKey = try DC09Key(text: dc09Hex, encoding: .binaryHex)

        let receiver = try DC09Receiver(accounts: [Self.account: receiverKey])
        receiver.start()
        defer { receiver.stop() }

        // The operator: a key pair, the public half where the daemon reads it, the payload pinning the key files.
        let operatorKey = OperatorPrivateKey.generate()
        try store.replaceAtomically("operator.pub", with: Array(operatorKey.publicKey.fileText.utf8))
        let payload = """
            { kind: "device", device: { id: "\(Self.deviceID)" }, silence: "no-speaker",
              roles: { reportLink: "dc09+tcp://127.0.0.1:\(receiver.tcpPort)" },
              alarm: { centreNumbers: ["+3292000101"], smsNumber: "+3292000199", triggerHold: "2s", periodicTest: "24h" },
              reporting: { account: "\(Self.account)", prefix: "1", receiver: "1", format: "SIA-DCS",
                           keyFile: "\(work)/dc09.key", keyEncoding: "binary-hex", smsKeyFile: "\(work)/sms.key" },
              fingerprints: { storageKey: "\(try KeyFingerprint.ofFile(at: storageKey))",
                              reporting: { keyFile: "\(try KeyFingerprint.ofFile(at: work + "/dc09.key"))",
                                           smsKeyFile: "\(try KeyFingerprint.ofFile(at: work + "/sms.key"))" } } }
            """
        let bundle = try ProvisioningBundle.sign(payload: Array(payload.utf8), counter: 1, deviceID: Self.deviceID, with: operatorKey)
        try store.replaceAtomically("provisioning.bundle", with: bundle.encoded)

        // Position: a real gpsd fed by gpsfake, one stationary fix a second.
        let seconds = idleSeconds + alarmSeconds + 180
        try store.replaceAtomically("stationary.nmea", with: Array(StationaryNMEA.log(seconds: seconds, from: SystemTime.wallMilliseconds()).utf8))
        let gps = try GPSFake.start(log: work + "/stationary.nmea", cycleSeconds: 0.25, outputPath: work + "/gpsfake.log")
        defer { gps.stop() }
        guard gps.waitUntilListening(seconds: 10) else { throw BenchFailure("gpsd did not listen (see \(work)/gpsfake.log)") }

        // Modem: the out-of-process emulator; the far end answers 1 s after the call alerts.
        let link = work + "/modem.tty"
        let emulator = try EmulatorChild(emulatorPath, ["--link", link, "--keep-running", "--answer-after", "1"],
                                         stderrLog: work + "/emulator.log")
        defer { emulator.stop() }
        guard emulator.waitFor({ $0.contains("AT port on") }, timeoutMilliseconds: 10_000) != nil else {
            throw BenchFailure("modem-emulator did not start (see \(work)/emulator.log)")
        }

        // Button: a FIFO standing in for the gpio-keys event device. Held open read-write by the bench for the whole
        // run (the daemon would see end of file, a lost device, when the last writer closes).
        let button = try FIFOButton(path: work + "/button-event")

        let socket = work + "/alarmd.sock"
        let board = """
            // Generated by alarm-bench (footprint.device): every role real, on this machine.
            { name: "bench-device", kind: "device", provisioning: "\(work)/provisioning.bundle", silence: "no-speaker",
              device: { id: "\(Self.deviceID)" },
              roles: { button: "input:\(button.path)?key=KEY_PROG1", position: "gpsd://127.0.0.1:\(gps.port)",
                       modem: "serial:\(link)?baud=115200&profile=quectel-ec25",
                       reportLink: "dc09+tcp://127.0.0.1:\(receiver.tcpPort)" },
              storage: "\(work)/state", storageKey: "\(storageKey)", controlSocket: "\(socket)" }
            """
        try store.replaceAtomically("board.json5", with: Array(board.utf8))
        let log = try FileDescriptor.open(work + "/alarmd.log", O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        let spawnedAt = SystemTime.monotonicNanoseconds()
        let daemon: ChildProcess
        do {
            defer { try? log.close() }
            daemon = try ChildProcess.spawn(daemonPath, ["--board", work + "/board.json5", "--operator-key", work + "/operator.pub",
                                                         "--log-level", "notice"], stdout: log, stderr: log)
        }
        defer { _ = daemon.stop(graceMilliseconds: 3000) }
        let failure = { (what: String) in
            BenchFailure("footprint.device: \(what); \(daemonPath)'s log:\n" + tail(work + "/alarmd.log")
                         + "\nthe emulator's last lines:\n" + emulator.recent.suffix(15).joined(separator: "\n"))
        }
        // Ready: registered, a fix, the emulator's start-up traffic (call waiting) done.
        var ready: RuntimeStatus?
        let deadline = WaitLimit(milliseconds: 30_000)
        while !deadline.hasExpired {
            if let status = status(socket), status.registration == "home" || status.registration == "roaming", status.lastFix != nil,
               emulator.status()?["busy"] == "no" {
                ready = status
                break
            }
            if (try? daemon.wait(timeoutMilliseconds: 0)) ?? nil != nil { throw failure("alarmd exited during start-up") }
            pause(seconds: 0.05)
        }
        guard let ready else { throw failure("not ready in 30 s (registered, a fix): last status \(String(describing: status(socket)))") }
        let readyMilliseconds = Double(SystemTime.monotonicNanoseconds() - spawnedAt) / 1e6
        pause(seconds: 5)  // the start-up's own work (first fix, link) settles
        emulator.clearTranscript()

        // Idle: the developer footprint's window (per-thread schedstat and switches read every 100 ms).
        let windowing = FootprintBench(idleSeconds: idleSeconds, startups: 0, sliceSeconds: min(10, idleSeconds))
        let window = windowing.measureWindow(daemon.pid, seconds: idleSeconds)
        let idleMaps = MappingRSS.read(pid: daemon.pid)
        emulator.clearTranscript()
        let after = status(socket)
        let setting = "DEVICE build \(daemonPath) on a provisioned device board (kind device, operator-signed bundle, "
            + "--operator-key), every role real: modem serial:<pty>?baud=115200&profile=quectel-ec25 to the OUT-OF-PROCESS "
            + "modem-emulator (not counted), position gpsd:// (gpsd+gpsfake, 1 Hz stationary fix; not counted), button "
            + "input:<FIFO>?key=KEY_PROG1, DC-09 dc09+tcp AES-128 to a loopback receiver in alarm-bench"
        let fix = after?.lastFix.map { "last fix \($0.ageMilliseconds) ms old at the end" } ?? "NO FIX at the end"
        let windowNote = "\(setting); ready (registered, fix) \(BenchmarkHarness.rounded(readyMilliseconds)) ms after spawn, report link "
            + "\(ready.reportLink) then, \(after?.reportLink ?? "?") at the end; "
            + "\(idleSeconds) s idle window from 5 s after ready; \(fix)"
        harness.record("footprint.device.idle-rss",
                       definition: "DEVICE build alarmd: VmRSS at the end of a \(idleSeconds) s idle window with a GNSS fix (MB = 2^20 bytes)",
                       unit: "MB", samples: [BenchmarkHarness.megabytes(kibibytes: window.residentKiB)],
                       goal: .atMost(10, of: .max, "≤ 10 MB (device build)"),
                       note: "\(windowNote); RssAnon \(mb(window.anonymousKiB)) MB, file-backed \(mb(window.residentKiB - window.anonymousKiB)) MB; "
                           + "VmHWM \(mb(window.peakKiB)) MB; largest mappings (Rss): \(idleMaps.summary)")
        harness.record("footprint.device.idle-cpu",
                       definition: "DEVICE build alarmd: CPU of every thread (Σ schedstat ns) ÷ wall time, idle with a GNSS fix",
                       unit: "%", samples: window.cpuPercent, goal: .atMost(0.01, of: .mean, "≤ 0.01 % of one core (mean)"),
                       note: windowNote)
        harness.record("footprint.device.idle-wakeups",
                       definition: "DEVICE build alarmd: context switches of every thread per second, idle with a GNSS fix",
                       unit: "wakeups/s", samples: window.wakeups, goal: .atMost(2, of: .mean, "≤ 2 per second (mean)"),
                       note: windowNote + "; by thread: " + window.byThread)
        if let touched = window.referencedKiB {
            harness.record("footprint.device.idle-working-set",
                           definition: "DEVICE build alarmd: pages touched during the idle window (clear_refs, then Referenced of smaps_rollup)",
                           unit: "MB", samples: [BenchmarkHarness.megabytes(kibibytes: touched)], note: windowNote)
        }
        print("footprint.device idle: ready \(ready.mode), \(window.byThread)")
        print("footprint.device idle mappings: \(idleMaps.summary)")

        // The alarm: press (EV_KEY value 1, EV_SYN), hold 2.5 s (the trigger hold is 2 s), release.
        guard harness.wants("footprint.device.alarm-rss") else { return }
        let before = ProcessSample.read(pid: daemon.pid)
        let acksBefore = receiver.answers.count
        let pressedAt = SystemTime.monotonicNanoseconds()
        try button.write(value: 1)
        var released = false
        var triggeredAt: Int64?
        var connectedAt: Int64?
        var samples: [Double] = []
        var peak = 0
        var anonymous = 0
        var alarmMaps = MappingRSS()
        while true {
            let now = SystemTime.monotonicNanoseconds()
            if let triggeredAt, now - triggeredAt >= Int64(alarmSeconds) * 1_000_000_000 { break }
            if triggeredAt == nil, now - pressedAt > 10_000_000_000 { throw failure("the held button raised no alarm within 10 s") }
            pause(seconds: 0.25)
            if !released, SystemTime.monotonicNanoseconds() - pressedAt >= 2_500_000_000 {
                try button.write(value: 0)
                released = true
            }
            guard let sample = ProcessSample.read(pid: daemon.pid) else { throw failure("alarmd exited during the alarm") }
            if triggeredAt != nil { samples.append(BenchmarkHarness.megabytes(kibibytes: sample.residentKiB)) }
            peak = sample.peakResidentKiB
            anonymous = max(anonymous, sample.anonymousKiB)
            if sample.residentKiB * 1024 >= alarmMaps.totalBytes { alarmMaps = MappingRSS.read(pid: daemon.pid) }
            if triggeredAt == nil || connectedAt == nil, let state = status(socket) {
                if triggeredAt == nil, state.mode == "alarm" { triggeredAt = SystemTime.monotonicNanoseconds() }
                if connectedAt == nil, state.call?.connected == true { connectedAt = SystemTime.monotonicNanoseconds() }
            }
            emulator.clearTranscript()  // keep its stdout pipe drained
        }
        let modem = emulator.status() ?? [:]
        let acked = receiver.answers.dropFirst(acksBefore).filter { $0.answer.contains("ACK") && $0.messageType != "NULL" }
        let codes = receiver.received.suffix(20).map(\.code).joined(separator: ",")
        guard let triggeredAt, let connectedAt else { throw failure("alarm raised \(triggeredAt != nil), call connected \(connectedAt != nil)") }
        guard !acked.isEmpty else { throw failure("no report ACKed by the receiver during the alarm (codes \(codes))") }
        harness.record("footprint.device.alarm-rss",
                       definition: "DEVICE build alarmd: VmRSS sampled every 250 ms over the first \(alarmSeconds) s of an alarm "
                           + "(from the trigger as status shows it; call connected on the emulator, reports ACKed) (MB = 2^20 bytes)",
                       unit: "MB", samples: samples, goal: .atMost(14, of: .max, "≤ 14 MB (device build)"),
                       note: "\(setting); no evidence section; button pressed through the FIFO (EV_KEY KEY_PROG1 1, EV_SYN), released "
                           + "after 2.5 s (hold 2 s); \(mb(before?.residentKiB ?? 0)) MB just before the press; trigger "
                           + "\(BenchmarkHarness.rounded(Double(triggeredAt - pressedAt) / 1e6)) ms after the press, call connected "
                           + "\(BenchmarkHarness.rounded(Double(connectedAt - triggeredAt) / 1e6)) ms after the trigger (emulator: "
                           + "active \(modem["active"] ?? "?"), dialled \(modem["dialled"] ?? "?")); \(acked.count) frames ACKed "
                           + "(codes \(codes)); VmHWM \(mb(peak)) MB, at most \(mb(anonymous)) MB anonymous (RssAnon); largest mappings "
                           + "at the peak: \(alarmMaps.summary)")
        print("footprint.device alarm mappings: \(alarmMaps.summary)")
    }

    // MARK: pieces

    func status(_ socket: String) -> RuntimeStatus? {
        try? ControlClient(socketPath: socket).request(ControlRequest(command: "status"), timeoutMilliseconds: 2000).status
    }

    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    static func randomHex(bytes: Int) -> String {
        let digits = Array("0123456789abcdef")
        var random = SystemRandomNumberGenerator()
        return String((0..<bytes).flatMap { _ -> [Character] in
            let byte = UInt8.random(in: 0...255, using: &random)
            return [digits[Int(byte >> 4)], digits[Int(byte & 15)]]
        })
    }

    func mb(_ kib: Int) -> Double { BenchmarkHarness.rounded(BenchmarkHarness.megabytes(kibibytes: kib)) }
    func mb(bytes: Int) -> Double { BenchmarkHarness.rounded(BenchmarkHarness.megabytes(bytes: bytes)) }

    func tail(_ path: String) -> String {
        let text = ((try? StorageDirectory.readFile(path, limit: 4 << 20)) ?? nil).map { String(decoding: $0, as: UTF8.self) } ?? "(no log)"
        return text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }


}

/// Resident memory by mapping (/proc/PID/smaps), grouped by file (anonymous mappings by their name: [heap], [stack],
/// or "anonymous"), largest first; of each, the anonymous part (a file mapping's pages written since: relocated data).
struct MappingRSS {
    var byName: [(name: String, kib: Int, anonymousKiB: Int)] = []
    var totalBytes: Int { byName.reduce(0) { $0 + $1.kib } * 1024 }

    static func read(pid: Int32) -> MappingRSS {
        guard let bytes = (try? StorageDirectory.readFile("/proc/\(pid)/smaps", limit: 16 << 20)) ?? nil else { return MappingRSS() }
        var totals: [String: (Int, Int)] = [:]
        var current = "anonymous"
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // A mapping's header: address perms offset dev inode [path]
                current = fields.count >= 6 ? fields[5...].joined(separator: " ") : "anonymous"
                if let slash = current.lastIndex(of: "/") { current = String(current[current.index(after: slash)...]) }
            } else if first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
                totals[current, default: (0, 0)].0 += kib
            } else if first == "Anonymous:", fields.count >= 2, let kib = Int(fields[1]) {
                totals[current, default: (0, 0)].1 += kib
            }
        }
        return MappingRSS(byName: totals.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.kib > $1.kib })
    }

    var summary: String {
        func mb(_ kib: Int) -> Double { BenchmarkHarness.rounded(Double(kib) / 1024) }
        let large = byName.filter { $0.kib >= 100 }.map { "\($0.name) \(mb($0.kib)) MB" + ($0.anonymousKiB > 0 ? " (anon \(mb($0.anonymousKiB)))" : "") }
        let small = byName.filter { $0.kib < 100 }
        return (large + ["\(small.count) smaller \(mb(small.reduce(0) { $0 + $1.kib })) MB (anon \(mb(small.reduce(0) { $0 + $1.anonymousKiB })))"])
            .joined(separator: ", ")
    }
}
