import Dispatch
import Glibc
import HAL
import PosixIO
import Synchronization

/// The emulator behind a real pseudo-terminal: the driver opens `devicePath` exactly as it would open
/// /dev/ttyUSB2, with termios and all, and the bytes cross the kernel's tty layer.
public final class PTYModemEmulator: Sendable {
    public let emulator: ModemEmulator
    public let devicePath: String
    private let connection: StreamConnection
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
        connection = StreamConnection(
            descriptor: pty.controller, queue: DispatchQueue(label: "modem-emulator"),
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

    public func close() {
        connection.close()
        if let link { unlink(link) }
    }
}

final class ByteCounters: Sendable {
    private let counts = Mutex((received: 0, sent: 0))
    func add(received: Int = 0, sent: Int = 0) { counts.withLock { $0.received += received; $0.sent += sent } }
    var values: (received: Int, sent: Int) { counts.withLock { $0 } }
}
