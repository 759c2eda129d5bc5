import Glibc
import PosixIO
import Synchronization

/// gpsd replaying an NMEA log: for tests against a real gpsd (3.22 here), `make sim` and `make bench`.
///
/// `gpsfake -1 -q -P PORT -c CYCLE LOG` starts its own `gpsd -b -N -S PORT`
/// and feeds it the log through a pty. Facts that shape this class:
/// - The replay only runs while a client is connected: the first client
///   starts it. After the log ends gpsfake waits (`-W`, 60 s) and exits 1;
///   a client that disconnects early leaves it waiting forever, so always
///   `stop()` (deinit does it too).
/// - The first 1–4 epochs may never show up as fixes: wait for "eventually".
/// - gpsfake runs in its own session and process group (via setsid(1)), so
///   gpsd and anything else it starts can be found, and killed, as a group.
/// - Never signal gpsfake itself first: its SIGTERM/SIGINT handler calls
///   Popen.poll() re-entrantly, and when the signal lands while the main loop
///   is inside poll() (it polls gpsd on every pass) the handler spins forever
///   re-sending SIGTERM to an already dead gpsd. `stop()` therefore stops gpsd
///   first; gpsfake then sees "daemon died", reaps gpsd and exits by itself.
/// - PID 1 on the build machines reaps orphans late (zombies seen for
///   seconds): a gpsd whose gpsfake was killed first lingers as a zombie.
///   Stopping gpsd first lets gpsfake reap it at once.
/// - gpsfake leaves `$TMPDIR/gpsfake-PID.sock` (gpsd's control socket) behind.
/// - While no client is connected gpsfake busy-polls at 100 % CPU, and if the
///   test process dies without `stop()` it does so forever: `start` kills
///   such abandoned instances of earlier runs (marked with their owner's PID).
public final class GPSFake: Sendable {
    public let port: UInt16
    /// The replayed NMEA log.
    public let nmeaLog: String
    /// gpsfake's and gpsd's stdout/stderr: print it when a test fails.
    public let outputPath: String
    /// gpsfake's PID, which is also its process-group ID.
    public var pid: Int32 { process.pid }

    private let process: ChildProcess
    private let stopped = Mutex(false)

    static let python = "/usr/bin/python3"
    static let gpsfake = "/usr/bin/gpsfake"
    static let gpsd = "/usr/sbin/gpsd"
    static let setsid = "/usr/bin/setsid"
    static let gpsPython = "/usr/lib/python3/dist-packages/gps/fake.py"

    /// gpsfake, gpsd and the Python `gps` package are installed.
    public static var isAvailable: Bool {
        let programs: [String] = [python, gpsfake, gpsd, setsid]
        return programs.allSatisfy { access($0, X_OK) == 0 } && access(gpsPython, R_OK) == 0
    }

    /// For `#require(GPSFake.isAvailable, GPSFake.unavailableMessage)` and the like.
    public static let unavailableMessage =
        "gpsd/gpsfake are not installed (need \(gpsfake), \(gpsd), python3-gps): run make test (it installs gpsd)"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private init(port: UInt16, nmeaLog: String, outputPath: String, process: ChildProcess) {
        self.port = port
        self.nmeaLog = nmeaLog
        self.outputPath = outputPath
        self.process = process
    }

    deinit {
        stop()
    }

    /// Starts gpsfake on a free 127.0.0.1 port replaying `log` once.
    /// `cycleSeconds` is gpsfake's `-c`: the pause after every *sentence*,
    /// not per epoch. The nmea-route fixtures have 6 sentences per fix epoch
    /// (RMC, GGA, GSA, 2 × GSV, GST), so 0.2 s is 1.2 s per epoch and
    /// ghent-walk.nmea takes about 2.4 minutes. Measured with gpsd 3.22:
    /// at 0.1 s every fix epoch became a TPV; at 0.02 s (about 14 s for the
    /// walk) the first 5 fix epochs were lost, then every one arrived. Returns
    /// at once: use `waitUntilListening` before connecting, and remember
    /// that connecting is what starts the replay.
    /// `port`: a given port (to restart gpsd where a client expects it); nil picks a free one.
    /// `outputPath`: where gpsfake's and gpsd's output go (default: a file in the temp folder).
    public static func start(log: String, cycleSeconds: Double = 0.2, port fixedPort: UInt16? = nil,
                             outputPath requestedOutput: String? = nil) throws -> GPSFake {
        guard isAvailable else { throw Failure(description: unavailableMessage) }
        guard access(log, R_OK) == 0 else { throw Failure(description: "GPSFake: cannot read NMEA log \(log)") }
        guard cycleSeconds > 0, cycleSeconds.isFinite else { throw Failure(description: "GPSFake: cycleSeconds must be positive") }

        // The port is free now; gpsd binds it a moment later. Another process
        // could take it in between, which waitUntilListening detects.
        reapAbandoned()
        let port: UInt16
        if let fixedPort {
            port = fixedPort
        } else {
            let probe = try TCP.listen(port: 0)
            port = probe.port
            try? probe.descriptor.close()
        }

        let outputPath = requestedOutput ?? "\(temporaryDirectory)/gpsfake-port-\(port)-\(getpid()).log"
        let output = try FileDescriptor.open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { try? output.close() }
        // setsid(1) execs in place (the spawned child is never a group
        // leader), so the PID we get is gpsfake's and also its group's.
        let process = try ChildProcess.spawn(setsid, [
            python, gpsfake, "-1", "-q", "-P", String(port), "-c", decimal(cycleSeconds), log,
        ], environment: environmentWithOwner(), stdout: output, stderr: output)
        return GPSFake(port: port, nmeaLog: log, outputPath: outputPath, process: process)
    }

    /// True once our gpsd has a LISTEN socket on `port` (read from
    /// /proc/net/tcp{,6} and matched to gpsd's descriptors, so a stranger on
    /// the port does not count). Does not connect: a client would start the
    /// replay. False on timeout or when gpsfake has already exited.
    public func waitUntilListening(seconds: Double) -> Bool {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(seconds * 1e9)
        while true {
            if isListening() { return true }
            if hasExited || SystemTime.monotonicNanoseconds() >= deadline { return false }
            var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&pause, nil)
        }
    }

    /// Stops gpsd and gpsfake and removes gpsfake's leftover control socket.
    /// Idempotent, bounded (about 8 s in the worst case, normally a few
    /// tens of milliseconds) and leaves no process of the group behind.
    public func stop() {
        stopped.withLock { done in
            guard !done else { return }
            done = true
            let group = process.pid

            // 1. gpsd (and any other helper) first: gpsfake exits on its own.
            signalMembers(of: group, except: group, SIGTERM)
            if waitForExit(milliseconds: 3000) == nil {
                // 2. Should gpsd ignore SIGTERM, or gpsfake be stuck elsewhere.
                signalMembers(of: group, except: group, SIGKILL)
                if waitForExit(milliseconds: 1000) == nil {
                    process.signal(SIGTERM)
                    if waitForExit(milliseconds: 1000) == nil {
                        // 3. Last resort: the whole group.
                        signalMembers(of: group, except: nil, SIGKILL)
                        _ = waitForExit(milliseconds: 2000)
                    }
                }
            }
            // Orphans (only after step 3) keep the group ID: make sure.
            signalMembers(of: group, except: nil, SIGKILL)
            unlink("\(Self.temporaryDirectory)/gpsfake-\(group).sock")
        }
    }

    /// Live (non-zombie) processes of gpsfake's group, gpsfake included
    /// while it runs. Empty after `stop()`.
    public var groupMembers: [Int32] {
        Self.members(of: process.pid).filter { !$0.zombie }.map(\.pid)
    }

    /// Walks up from `file` to the folder holding Package.swift.
    public static func repositoryRoot(from file: String = #filePath) -> String {
        var path = file
        while let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), slash != path.utf8.startIndex {
            path = String(path[..<slash])
            if access(path + "/Package.swift", F_OK) == 0 {
                return path
            }
        }
        return "."
    }

    /// `Tests/Fixtures/<name>` in this repository.
    public static func fixture(_ name: String, from file: String = #filePath) -> String {
        repositoryRoot(from: file) + "/Tests/Fixtures/" + name
    }

    // MARK: - Internals

    /// Marks each gpsfake with the test process that started it, so a later
    /// run can recognise instances whose owner died (a crashed or killed
    /// test never calls stop()).
    static let ownerVariable = "STALKING_ALARM_GPSFAKE_OWNER"

    private static func environmentWithOwner() -> [String: String] {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        environment[ownerVariable] = String(getpid())
        return environment
    }

    /// An abandoned gpsfake waits for a client forever, busy-polling at 100 %
    /// CPU. Kills the process groups of gpsfake instances started by this
    /// class whose owning test process no longer exists (and only those).
    static func reapAbandoned() {
        guard let directory = opendir("/proc") else { return }
        defer { closedir(directory) }
        let marker = Array((ownerVariable + "=").utf8)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid != getpid(),
                  members(of: pid).contains(where: { $0.pid == pid }), // a group leader, as setsid makes gpsfake
                  let command = try? StorageDirectory.readFile("/proc/\(pid)/cmdline", limit: 4096),
                  String(decoding: command, as: UTF8.self).contains(gpsfake),
                  let variables = try? StorageDirectory.readFile("/proc/\(pid)/environ", limit: 1 << 20)
            else { continue }
            for variable in variables.split(separator: 0) where variable.starts(with: marker) {
                guard let owner = Int32(String(decoding: variable.dropFirst(marker.count), as: UTF8.self)) else { continue }
                if kill(owner, 0) == -1 && errno == ESRCH {
                    kill(-pid, SIGKILL)
                    unlink("\(temporaryDirectory)/gpsfake-\(pid).sock")
                }
            }
        }
    }

    private var hasExited: Bool {
        ((try? process.wait(timeoutMilliseconds: 0)) ?? nil) != nil
    }

    private func waitForExit(milliseconds: Int) -> Int32? {
        (try? process.wait(timeoutMilliseconds: milliseconds)) ?? nil
    }

    private func signalMembers(of group: Int32, except excluded: Int32?, _ signal: Int32) {
        for member in Self.members(of: group) where member.pid != excluded && !member.zombie {
            kill(member.pid, signal)
        }
    }

    private func isListening() -> Bool {
        let inodes = Self.listeningInodes(port: port)
        guard !inodes.isEmpty else { return false }
        for member in Self.members(of: process.pid) where !member.zombie {
            guard let directory = opendir("/proc/\(member.pid)/fd") else { continue }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                var target = [CChar](repeating: 0, count: 64)
                let length = readlink("/proc/\(member.pid)/fd/\(name)", &target, target.count - 1)
                guard length > 0 else { continue }
                let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if inodes.contains(link) { return true }
            }
        }
        return false
    }

    /// `socket:[INODE]` of every LISTEN socket on `port`.
    private static func listeningInodes(port: UInt16) -> Set<String> {
        var result: Set<String> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let bytes = try? StorageDirectory.readFile(table, limit: 16 << 20) else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3] == "0A",
                      let colon = fields[1].lastIndex(of: ":"),
                      UInt16(fields[1][fields[1].index(after: colon)...], radix: 16) == port
                else { continue }
                result.insert("socket:[\(fields[9])]")
            }
        }
        return result
    }

    /// Processes whose process-group ID is `group`, from /proc/PID/stat.
    static func members(of group: Int32) -> [(pid: Int32, zombie: Bool)] {
        guard group > 1, let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var result: [(Int32, Bool)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name),
                  let bytes = try? StorageDirectory.readFile("/proc/\(pid)/stat", limit: 4096),
                  let close = bytes.lastIndex(of: UInt8(ascii: ")"))
            else { continue }
            // After "pid (comm)": state ppid pgrp ...; comm may contain spaces.
            let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
            guard fields.count > 2, let pgrp = Int32(String(decoding: fields[2], as: UTF8.self)), pgrp == group else { continue }
            result.append((pid, fields[0].first == UInt8(ascii: "Z")))
        }
        return result
    }

    static var temporaryDirectory: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 {
            return String(cString: value)
        }
        return "/tmp"
    }

    /// gpsfake parses `-c` with Python's float(); keep it plain decimal.
    private static func decimal(_ value: Double) -> String {
        let thousandths = Int((value * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
