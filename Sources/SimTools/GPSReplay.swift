import Glibc
import PosixIO

/// A real gpsd replaying an NMEA log (gpsfake), for the simulator board's `gpsd://` position role.
/// gpsfake replays only while a client (the daemon) is connected.
public struct GPSReplay: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    let process: ChildProcess

    /// `cycleSeconds`: gpsfake's pause after every sentence (six sentences make one epoch of our logs).
    public static func start(log: String, port: UInt16, output: FileDescriptor,
                             cycleSeconds: Double = 0.2) throws -> GPSReplay {
        guard access("/usr/bin/gpsfake", X_OK) == 0, access("/usr/sbin/gpsd", X_OK) == 0 else {
            throw Failure(description: "gpsd is not installed: run `make sim` (it installs gpsd)")
        }
        guard access(log, R_OK) == 0 else { throw Failure(description: "cannot read the NMEA log \(log)") }
        // Its own process group (setsid), so that stopping it also stops the gpsd it started. gpsfake runs
        // under the system python, which has the gps module (another python3 on PATH may not).
        let process = try ChildProcess.spawn("/usr/bin/setsid", [
            "/usr/bin/python3", "/usr/bin/gpsfake", "-1", "-q", "-P", String(port), "-c", "\(cycleSeconds)", log,
        ], stdout: output, stderr: output)
        return GPSReplay(process: process)
    }

    /// gpsd first: gpsfake then notices, cleans up and exits by itself (signalling gpsfake directly can leave
    /// it spinning). The whole group is killed only as a last resort; gpsfake's control socket is removed.
    public func stop() {
        for member in groupMembers() where member != process.pid { kill(member, SIGTERM) }
        if (try? process.wait(timeoutMilliseconds: 3000)) ?? nil == nil {
            kill(-process.pid, SIGKILL)
            _ = try? process.wait(timeoutMilliseconds: 2000)
        }
        let directory = String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
        unlink("\(directory)/gpsfake-\(process.pid).sock")
    }

    /// Processes in gpsfake's process group (itself and the gpsd it started), read from /proc.
    func groupMembers() -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var members: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard let pid = pid_t(name),
                  let stat = try? StorageDirectory.readFile("/proc/\(pid)/stat", limit: 4096) else { continue }
            // "pid (comm) state ppid pgrp …": comm may hold spaces, so count fields after the last ')'.
            let text = String(decoding: stat, as: UTF8.self)
            guard let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 2, pid_t(fields[2]) == process.pid { members.append(pid) }
        }
        return members
    }
}
