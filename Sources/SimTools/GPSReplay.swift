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

    /// gpsd first (gpsfake then cleans up and exits), then the whole group as a last resort.
    public func stop() {
        kill(-process.pid, SIGTERM)
        if (try? process.wait(timeoutMilliseconds: 3000)) ?? nil == nil {
            kill(-process.pid, SIGKILL)
            _ = try? process.wait(timeoutMilliseconds: 2000)
        }
    }
}
