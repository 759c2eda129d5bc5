import Dispatch
import Glibc
import HAL
import PosixIO
import Synchronization

/// The emulator behind a real pseudo-terminal: the driver opens `devicePath` exactly as it would open
/// /dev/ttyUSB2, with termios and all, and the bytes cross the kernel's tty layer.
///
/// Like a real modem it outlives the program driving it: the driver may close the port (or die) and another
/// process reopen it, and the calls, settings and state are still there, without a new RDY (the modem did not
/// restart). Output written while nobody has the port open waits in the tty and is discarded by the next
/// opener's flush, as bytes from a real modem to an unopened UART are lost.
public final class PTYModemEmulator: Sendable {
    public let emulator: ModemEmulator
    public let devicePath: String
    private let connection: StreamConnection
    /// Our own descriptor on the device side, opened once and never read. Linux fails reads on the controller
    /// with EIO once the last device-side descriptor closes (see `PseudoTerminal`), which would end the
    /// connection when the driver closes the port; holding one open ourselves keeps the line alive.
    private let deviceKeeper: FileDescriptor
    private let link: String?
    private let counters = ByteCounters()

    /// `link`: a stable path (symlink) to the pty, for board files and for people (like socat's link=).
    /// `afterInput`: called after each batch from the driver has been handled and counted.
    public init(emulator: ModemEmulator, link: String? = nil,
                afterInput: @escaping @Sendable () -> Void = {}) throws(Errno) {
        self.emulator = emulator
        let pty = try PseudoTerminal.open()
        devicePath = pty.devicePath
        self.link = link
        do throws(Errno) {
            deviceKeeper = try FileDescriptor.open(pty.devicePath, O_RDWR | O_NOCTTY | O_NONBLOCK)
        } catch {
            try? pty.controller.close()
            throw error
        }
        connection = StreamConnection(
            descriptor: pty.controller, queue: DispatchQueue(label: "modem-emulator"),
            // Nobody may be reading for a long time (the daemon is dead and not restarted yet); once the
            // tty's buffers are full, output is dropped after a while instead of stalling the emulator.
            sendTimeoutMilliseconds: 2000,
            onBytes: { [counters] bytes in
                emulator.receive(bytes)
                counters.add(received: bytes.count)
                afterInput()
            },
            onClose: { _ in })
        if let link {
            unlink(link)
            guard symlink(pty.devicePath, link) == 0 else {
                let error = Errno.current
                connection.close()
                try? deviceKeeper.close()
                throw error
            }
        }
        connection.start()
        let output = connection
        let counters = self.counters
        emulator.attach { bytes in
            counters.add(sent: bytes.count)
            try? output.send(bytes)
        }
    }

    /// Bytes taken from the driver (after processing) and handed to it, for tests that must know the line is quiet.
    public var byteCounts: (received: Int, sent: Int) { counters.values }

    /// Removes the modem: the device side is hung up for whoever still has it open.
    public func close() {
        connection.close()
        closeKeeperOnce()
        if let link { unlink(link) }
    }

    private let keeperClosed = Atomic(false)

    private func closeKeeperOnce() {
        guard !keeperClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? deviceKeeper.close()
    }
}

final class ByteCounters: Sendable {
    private let counts = Mutex((received: 0, sent: 0))
    func add(received: Int = 0, sent: Int = 0) { counts.withLock { $0.received += received; $0.sent += sent } }
    var values: (received: Int, sent: Int) { counts.withLock { $0 } }
}
