import Glibc
import PosixIO
import Testing

@Suite struct ChildProcessTests {
    @Test func exitStatusIsReported() throws {
        let child = try ChildProcess.spawn("/bin/sh", ["-c", "exit 3"])
        #expect(try child.wait(timeoutMilliseconds: 10_000) == 3)
        // Reaped once, remembered afterwards.
        #expect(try child.wait(timeoutMilliseconds: 0) == 3)
        #expect(child.stop() == 3)
    }

    @Test func pathLookupAndEnvironment() throws {
        let child = try ChildProcess.spawn("sh", ["-c", "exit $CODE"], environment: ["CODE": "7"])
        #expect(try child.wait(timeoutMilliseconds: 10_000) == 7)
    }

    @Test func missingExecutableIsTyped() {
        #expect(throws: Errno.noSuchFile) {
            _ = try ChildProcess.spawn("/nonexistent/posixio-helper", [])
        }
    }

    @Test func stdoutIsRedirected() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(rawValue: ends[0])
        let writer = FileDescriptor(rawValue: ends[1])
        defer { _ = try? reader.close() }
        let child = try ChildProcess.spawn("/bin/sh", ["-c", "printf hello"], stdout: writer)
        try writer.close()
        var output: [UInt8] = []
        while true {
            let chunk = try reader.read(upTo: 64)
            if chunk.isEmpty { break }
            output += chunk
        }
        #expect(output == Array("hello".utf8))
        #expect(try child.wait(timeoutMilliseconds: 10_000) == 0)
    }

    @Test func sleepingChildStopsPromptly() throws {
        let started = SystemTime.monotonicNanoseconds()
        let child = try ChildProcess.spawn("sleep", ["30"])
        #expect(try child.wait(timeoutMilliseconds: 50) == nil)
        let status = child.stop()
        let elapsed = SystemTime.monotonicNanoseconds() - started
        #expect(status == 128 + SIGTERM)
        #expect(elapsed < 5_000_000_000)
    }

    /// The reason for POSIX_SPAWN_SETSIGMASK: a parent thread that blocks
    /// SIGTERM must not hand that mask to its children.
    @Test func childDoesNotInheritBlockedSignals() throws {
        var blocked = sigset_t()
        var previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let spawned = Result { try ChildProcess.spawn("sleep", ["30"]) }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        let child = try spawned.get()
        #expect(child.stop(graceMilliseconds: 5000) == 128 + SIGTERM)
    }

    @Test func stopEscalatesToKill() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(rawValue: ends[0])
        let writer = FileDescriptor(rawValue: ends[1])
        defer { _ = try? reader.close() }
        // The shell reports on stdout once SIGTERM is ignored, so the test
        // waits for that fact instead of guessing a delay.
        let child = try ChildProcess.spawn("/bin/sh", ["-c", "trap '' TERM; echo ready; exec sleep 30"], stdout: writer)
        try writer.close()
        #expect(try reader.poll(events: Int16(POLLIN), timeoutMilliseconds: 10_000) != 0)
        #expect(try reader.read(upTo: 16) == Array("ready\n".utf8))
        let started = SystemTime.monotonicNanoseconds()
        #expect(child.stop(graceMilliseconds: 200) == 128 + SIGKILL)
        #expect(SystemTime.monotonicNanoseconds() - started < 5_000_000_000)
    }

    @Test func executablePathIsAbsolute() {
        let path = ChildProcess.executablePath()
        #expect(path.hasPrefix("/"))
        #expect(access(path, X_OK) == 0)
    }
}
