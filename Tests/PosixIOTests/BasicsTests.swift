import Dispatch
import Glibc
import PosixIO
import Testing

@Suite struct ErrnoTests {
    @Test func descriptionMentionsNumberAndText() {
        let description = Errno(rawValue: ENOENT).description
        #expect(description.contains("errno \(ENOENT)"))
        #expect(description.contains("No such file"))
        #expect(Errno.noSpace == Errno(ENOSPC))
        #expect(Errno.wouldBlock.rawValue == EAGAIN)
    }

    @Test func currentReadsErrno() {
        #expect(close(-1) == -1)
        #expect(Errno.current == .badFileDescriptor)
    }
}

@Suite struct FileDescriptorTests {
    @Test func writeAllWaitsOnFullNonBlockingPipe() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(rawValue: ends[0])
        let writer = FileDescriptor(rawValue: ends[1])
        try writer.setNonBlocking()
        // Several times the pipe buffer, so EAGAIN and poll(POLLOUT) happen.
        let payload = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0) }
        let received = Recorder<[UInt8]>([])
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while let chunk = try? reader.read(upTo: 65536), !chunk.isEmpty {
                received.update { $0 += chunk }
            }
            _ = try? reader.close()
            done.signal()
        }
        try writer.writeAll(payload)
        try writer.close()
        #expect(done.wait(timeout: deadline()) == .success)
        #expect(received.value == payload)
    }

    @Test func writeAllTimesOutWhenNobodyReads() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(rawValue: ends[0])
        let writer = FileDescriptor(rawValue: ends[1])
        defer { _ = try? reader.close(); _ = try? writer.close() }
        try writer.setNonBlocking()
        #expect(throws: Errno.timedOut) {
            try writer.writeAll([UInt8](repeating: 0, count: 1_000_000), timeoutMilliseconds: 50)
        }
    }

    @Test func pollTimesOutWithZero() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(rawValue: ends[0])
        let writer = FileDescriptor(rawValue: ends[1])
        defer { _ = try? reader.close(); _ = try? writer.close() }
        #expect(try reader.poll(events: Int16(POLLIN), timeoutMilliseconds: 20) == 0)
        #expect(try writer.write([1, 2, 3]) == 3)
        #expect(try reader.poll(events: Int16(POLLIN), timeoutMilliseconds: 1000) & Int16(POLLIN) != 0)
        #expect(try reader.read(upTo: 10) == [1, 2, 3])
    }

    @Test func openMissingFileIsTyped() {
        #expect(throws: Errno.noSuchFile) {
            _ = try FileDescriptor.open("/nonexistent/posixio", O_RDONLY)
        }
    }

    @Test func openSetsCloseOnExec() throws {
        let fd = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { _ = try? fd.close() }
        #expect(fcntl(fd.rawValue, F_GETFD) & FD_CLOEXEC != 0)
    }
}

@Suite struct ClockTests {
    @Test func clocksArePlausible() {
        let first = SystemTime.monotonicNanoseconds()
        let second = SystemTime.monotonicNanoseconds()
        #expect(second >= first)
        // After 2020-01-01 and before 2100-01-01.
        let wall = SystemTime.wallMilliseconds()
        #expect(wall > 1_577_836_800_000 && wall < 4_102_444_800_000)
    }
}
