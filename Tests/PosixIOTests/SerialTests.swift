import Dispatch
import Glibc
import PosixIO
import Testing

/// Every test uses its own pty: on a pty, TIOCEXCL outlives the exclusive
/// opener (the device side's tty lives as long as the controller), so a
/// non-root test run could not reopen a device another test had opened.
@Suite struct SerialPortTests {
    @Test(arguments: [false, true])
    func openAppliesSettings(hardwareFlowControl: Bool) throws {
        let pty = try PseudoTerminal.open()
        defer { _ = try? pty.controller.close() }
        let device = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: hardwareFlowControl)
        defer { _ = try? device.close() }

        let settings = try SerialPort.currentSettings(device)
        #expect(settings.baud == 115_200)
        #expect(settings.hardwareFlowControl == hardwareFlowControl)
        #expect(settings.raw)
        #expect(fcntl(device.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(device.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        // Nothing to read is EAGAIN, not 0 (which would look like a hang-up).
        #expect(throws: Errno.wouldBlock) { _ = try device.read(upTo: 16) }
        // Both ends see the same line settings on a pty.
        #expect(try SerialPort.currentSettings(pty.controller).baud == 115_200)
    }

    @Test func everyTableRateIsAcceptedByAPty() throws {
        let pty = try PseudoTerminal.open()
        defer { _ = try? pty.controller.close() }
        for baud in [9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600] {
            let device = try SerialPort.open(pty.devicePath, baud: baud, hardwareFlowControl: false, exclusive: false)
            #expect(try SerialPort.currentSettings(device).baud == baud)
            try device.close()
        }
    }

    @Test func invalidBaudIsRejected() throws {
        let pty = try PseudoTerminal.open()
        defer { _ = try? pty.controller.close() }
        for baud in [0, -9600, 12345, 115_201, 4_000_000] {
            #expect(throws: Errno.invalidArgument) {
                _ = try SerialPort.open(pty.devicePath, baud: baud, hardwareFlowControl: false)
            }
        }
        // Nothing was left locked by the rejected calls.
        let device = try SerialPort.open(pty.devicePath, baud: 9600, hardwareFlowControl: false)
        try device.close()
    }

    @Test func missingDeviceIsTyped() {
        #expect(throws: Errno.noSuchFile) {
            _ = try SerialPort.open("/dev/posixio-no-such-tty", baud: 9600, hardwareFlowControl: false)
        }
    }

    /// As root TIOCEXCL is bypassed and the flock refuses the second open;
    /// as any other user open(2) itself fails. Both must look the same.
    @Test func secondExclusiveOpenIsBusy() throws {
        let pty = try PseudoTerminal.open()
        defer { _ = try? pty.controller.close() }
        let first = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: true)
        defer { _ = try? first.close() }
        #expect(throws: Errno.deviceBusy) {
            _ = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: true)
        }
    }
}

@Suite struct PseudoTerminalTests {
    @Test func controllerIsNonBlockingCloseOnExecAndRaw() throws {
        let pty = try PseudoTerminal.open()
        defer { _ = try? pty.controller.close() }
        #expect(pty.devicePath.hasPrefix("/dev/pts/"))
        #expect(fcntl(pty.controller.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(pty.controller.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        #expect(try SerialPort.currentSettings(pty.controller).raw)
    }

    /// The kernel behaviour PseudoTerminal documents, at the syscall level.
    @Test func hangUpSemantics() throws {
        let pty = try PseudoTerminal.open()
        var controllerOpen = true
        defer { if controllerOpen { _ = try? pty.controller.close() } }

        // Never opened: nothing to read, but no error either.
        #expect(throws: Errno.wouldBlock) { _ = try pty.controller.read(upTo: 16) }

        // A plain open (no SerialPort settings): the controller made it raw.
        let device = try FileDescriptor.open(pty.devicePath, O_RDWR | O_NOCTTY | O_NONBLOCK)
        try device.writeAll([0x0A, 0x0D])
        try device.close()
        // Buffered bytes first, untranslated, then EIO rather than EOF.
        #expect(try pty.controller.poll(events: Int16(POLLIN), timeoutMilliseconds: 5000) & Int16(POLLIN) != 0)
        #expect(try pty.controller.read(upTo: 16) == [0x0A, 0x0D])
        #expect(try pty.controller.poll(events: Int16(POLLIN), timeoutMilliseconds: 10_000) & Int16(POLLHUP) != 0)
        #expect(throws: Errno(EIO)) { _ = try pty.controller.read(upTo: 16) }

        // Reopening the device clears the hang-up (the EIO above shows the
        // device's last copy is closed, so this open starts afresh).
        let again = try FileDescriptor.open(pty.devicePath, O_RDWR | O_NOCTTY | O_NONBLOCK)
        defer { _ = try? again.close() }
        #expect(throws: Errno.wouldBlock) { _ = try pty.controller.read(upTo: 16) }

        // Controller gone: the device reads end-of-file and cannot write.
        try pty.controller.close()
        controllerOpen = false
        // Waited for, not assumed: a process forked by a parallel test holds
        // a copy of every descriptor until it execs, and the hang-up only
        // happens when the last copy of the controller is closed.
        #expect(try again.poll(events: Int16(POLLIN), timeoutMilliseconds: 10_000) & Int16(POLLHUP) != 0)
        #expect(try again.read(upTo: 16) == [])
        #expect(throws: Errno(EIO)) { _ = try again.write([1]) }
    }
}

@Suite struct SerialStreamTests {
    /// Every byte value, with the ones a cooked tty would eat or translate
    /// (CR, LF, ^Z, NUL, 0xFF, ^C, ^D, XON/XOFF, DEL) repeated at the start,
    /// and long enough to fill the pty buffer so partial writes and
    /// poll(POLLOUT) happen.
    static let payload: [UInt8] = [0x0D, 0x0A, 0x0D, 0x1A, 0x00, 0xFF, 0x03, 0x04, 0x11, 0x13, 0x7F, 0x0A]
        + (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }

    @Test(arguments: [false, true])
    func bytesPassUnchangedBothWays(hardwareFlowControl: Bool) throws {
        let pty = try PseudoTerminal.open()
        let device = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: hardwareFlowControl)

        let controllerSide = Endpoint(pty.controller, label: "controller")
        let deviceSide = Endpoint(device, label: "device")
        controllerSide.stream.start()
        deviceSide.stream.start()

        try controllerSide.stream.send(Self.payload)
        #expect(deviceSide.waitForBytes(count: Self.payload.count))
        #expect(deviceSide.received.value == Self.payload)

        try deviceSide.stream.send(Self.payload)
        #expect(controllerSide.waitForBytes(count: Self.payload.count))
        #expect(controllerSide.received.value == Self.payload)

        // The driver closing the port ends the emulator's stream with EIO.
        deviceSide.stream.close()
        #expect(deviceSide.closed.wait(timeout: deadline()) == .success)
        #expect(controllerSide.closed.wait(timeout: deadline()) == .success)
        #expect(deviceSide.closeReasons.value == [nil])
        #expect(controllerSide.closeReasons.value == [Errno(EIO)])
    }

    /// The controller of a pty whose device side was closed reports POLLHUP
    /// on every poll; the stream must end on the EIO that follows, exactly
    /// once, and then stay silent instead of waking up again and again.
    @Test func deviceCloseEndsControllerStreamOnceWithoutSpinning() throws {
        let pty = try PseudoTerminal.open()
        let controllerSide = Endpoint(pty.controller, label: "controller")
        controllerSide.stream.start()

        let device = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: false)
        try device.writeAll([0x41, 0x54, 0x0D])
        try device.close()

        #expect(controllerSide.closed.wait(timeout: deadline()) == .success)
        #expect(controllerSide.received.value == [0x41, 0x54, 0x0D])
        #expect(controllerSide.closeReasons.value == [Errno(EIO)])
        let callbacks = controllerSide.callbacks.value

        // Nothing at all may happen after onClose; 300 ms of silence on a
        // queue that would otherwise be hammered by POLLHUP.
        #expect(controllerSide.afterClose.wait(timeout: .now() + .milliseconds(300)) == .timedOut)
        #expect(controllerSide.callbacks.value == callbacks)
        #expect(controllerSide.closeReasons.value.count == 1)
        #expect(throws: Errno.badFileDescriptor) { try controllerSide.stream.send([1]) }
    }

    /// What StreamConnection relies on: a read source on a hung-up pty
    /// controller fires once and is then dropped by libdispatch, even when
    /// the handler never reads, so POLLHUP cannot make a queue spin; and the
    /// handler run for the hang-up is the last chance to see the EIO.
    @Test func hungUpControllerFiresReadSourceOnce() throws {
        let pty = try PseudoTerminal.open()
        let device = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: false)
        try device.close()
        #expect(try pty.controller.poll(events: Int16(POLLIN), timeoutMilliseconds: 10_000) & Int16(POLLHUP) != 0)

        let invocations = Recorder(0)
        let fired = DispatchSemaphore(value: 0)
        let cancelled = DispatchSemaphore(value: 0)
        let source = DispatchSource.makeReadSource(fileDescriptor: pty.controller.rawValue, queue: DispatchQueue(label: "hup-source"))
        source.setEventHandler {
            invocations.update { $0 += 1 }
            fired.signal()
        }
        source.setCancelHandler {
            _ = try? pty.controller.close()
            cancelled.signal()
        }
        source.resume()
        #expect(fired.wait(timeout: deadline()) == .success)
        // A level-triggered hang-up would fire thousands of times in this
        // window.
        _ = fired.wait(timeout: .now() + .milliseconds(300))
        #expect(invocations.value == 1)
        source.cancel()
        #expect(cancelled.wait(timeout: deadline()) == .success)
    }

    @Test func controllerCloseEndsDeviceStreamWithEndOfFile() throws {
        let pty = try PseudoTerminal.open()
        let device = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: true)
        let deviceSide = Endpoint(device, label: "device")
        deviceSide.stream.start()

        try pty.controller.close()
        #expect(deviceSide.closed.wait(timeout: deadline()) == .success)
        #expect(deviceSide.closeReasons.value == [nil])
        #expect(deviceSide.afterClose.wait(timeout: .now() + .milliseconds(100)) == .timedOut)
        #expect(deviceSide.closeReasons.value.count == 1)
    }

    /// Nobody reads the controller, so the device's output queue fills up
    /// as it would behind a modem holding CTS low; close() must release the
    /// blocked sender (there is no shutdown(2) for a terminal).
    @Test func closeReleasesSenderBlockedOnFullTerminal() throws {
        let pty = try PseudoTerminal.open()
        defer { _ = try? pty.controller.close() }
        let device = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: true)
        let deviceSide = Endpoint(device, label: "device")
        deviceSide.stream.start()

        let outcome = Recorder<Errno?>(nil)
        let sending = DispatchSemaphore(value: 0)
        let sendReturned = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            sending.signal()
            do throws(Errno) {
                try deviceSide.stream.send([UInt8](repeating: 0x55, count: 4_000_000))
            } catch {
                outcome.update { $0 = error }
            }
            sendReturned.signal()
        }
        // The sender has started and bytes reached the controller, and it is
        // still blocked a while later: the queue really is full.
        #expect(sending.wait(timeout: deadline()) == .success)
        #expect(try pty.controller.poll(events: Int16(POLLIN), timeoutMilliseconds: 10_000) & Int16(POLLIN) != 0)
        #expect(sendReturned.wait(timeout: .now() + .milliseconds(200)) == .timedOut)
        deviceSide.stream.close()
        #expect(sendReturned.wait(timeout: deadline()) == .success)
        #expect(outcome.value == .brokenPipe)
        #expect(deviceSide.closed.wait(timeout: deadline()) == .success)
        #expect(deviceSide.closeReasons.value == [nil])
    }

    @Test func sendTimesOutWhenTerminalDoesNotDrain() throws {
        let pty = try PseudoTerminal.open()
        defer { _ = try? pty.controller.close() }
        let device = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: false)
        let deviceSide = Endpoint(device, label: "device", sendTimeoutMilliseconds: 50)
        deviceSide.stream.start()
        defer { deviceSide.stream.close() }
        #expect(throws: Errno.timedOut) {
            try deviceSide.stream.send([UInt8](repeating: 0x55, count: 4_000_000))
        }
    }
}

/// One end of a stream with everything the tests observe recorded.
private final class Endpoint: Sendable {
    let stream: StreamConnection
    let received = Recorder<[UInt8]>([])
    let closeReasons = Recorder<[Errno?]>([])
    let callbacks = Recorder(0)
    let closed = DispatchSemaphore(value: 0)
    /// Signalled by any callback that comes after the first onClose, which
    /// must never happen.
    let afterClose = DispatchSemaphore(value: 0)
    private let arrivals = DispatchSemaphore(value: 0)

    init(_ descriptor: FileDescriptor, label: String, sendTimeoutMilliseconds: Int32 = 5000) {
        let received = received
        let closeReasons = closeReasons
        let callbacks = callbacks
        let closed = closed
        let afterClose = afterClose
        let arrivals = arrivals
        stream = StreamConnection(
            descriptor: descriptor,
            queue: DispatchQueue(label: "serial-test-\(label)"),
            sendTimeoutMilliseconds: sendTimeoutMilliseconds,
            onBytes: { bytes in
                if !closeReasons.value.isEmpty {
                    afterClose.signal()
                }
                received.update { $0.append(contentsOf: bytes) }
                callbacks.update { $0 += 1 }
                arrivals.signal()
            },
            onClose: { reason in
                if !closeReasons.value.isEmpty {
                    afterClose.signal()
                }
                closeReasons.update { $0.append(reason) }
                callbacks.update { $0 += 1 }
                closed.signal()
            }
        )
    }

    /// Waits, up to the suite-wide deadline, until `count` bytes are in.
    func waitForBytes(count: Int) -> Bool {
        let end = deadline()
        while received.value.count < count {
            if arrivals.wait(timeout: end) == .timedOut {
                return false
            }
        }
        return true
    }
}
