import Glibc

extension Errno {
    /// Someone else holds the port: EBUSY from open(2) under TIOCEXCL, or
    /// our own flock(2) conflict, which is reported the same way so callers
    /// see one error for "another process owns this modem".
    public static var deviceBusy: Errno { Errno(EBUSY) }
}

/// Opening and configuring serial devices (UART, USB modem, pty device side)
/// for raw binary traffic. The returned descriptor is non-blocking and meant
/// to be handed to `StreamConnection`, which uses write(2) for non-sockets.
public enum SerialPort {
    /// The standard termios rates from 9600 to 921600. Anything else is a
    /// configuration mistake, reported as `.invalidArgument` rather than
    /// silently rounded by the driver.
    static let rates: [(baud: Int, speed: speed_t)] = [
        (9600, speed_t(B9600)),
        (19200, speed_t(B19200)),
        (38400, speed_t(B38400)),
        (57600, speed_t(B57600)),
        (115_200, speed_t(B115200)),
        (230_400, speed_t(B230400)),
        (460_800, speed_t(B460800)),
        (500_000, speed_t(B500000)),
        (576_000, speed_t(B576000)),
        (921_600, speed_t(B921600)),
    ]

    /// Opens `path` for raw 8N1 traffic at `baud`.
    ///
    /// - O_NONBLOCK: open(2) on a modem line without CLOCAL would otherwise
    ///   wait for carrier, and the stream's read loop relies on EAGAIN.
    /// - O_NOCTTY: a daemon without a controlling terminal would otherwise
    ///   acquire the port as one and could be sent SIGHUP by it.
    /// - `exclusive`: TIOCEXCL makes further open(2) calls by non-root
    ///   processes fail with EBUSY, but root (CAP_SYS_ADMIN) bypasses it, so an
    ///   advisory flock(2) is taken as well; a conflict on either is thrown as
    ///   `.deviceBusy`. The lock belongs to this open file description and
    ///   goes away with the last close, including on a crash. It does not
    ///   exclude programs that use /var/lock lock files instead (ModemManager
    ///   must be told to leave the port alone by udev rule).
    ///   On a pty device TIOCEXCL outlives the opener (the device side lives
    ///   as long as the controller), so a non-root process cannot open the
    ///   same pty again after an exclusive open: one `PseudoTerminal` per
    ///   driver session, or `exclusive: false`.
    ///
    /// Input and output queued before the call are discarded: bytes left from
    /// a previous user of the port would otherwise be parsed as replies.
    public static func open(
        _ path: String,
        baud: Int,
        hardwareFlowControl: Bool,
        exclusive: Bool = true
    ) throws(Errno) -> FileDescriptor {
        // Checked before opening so a bad configuration has no side effect on
        // the line (opening can toggle DTR on real UARTs).
        guard let speed = speed(for: baud) else {
            throw .invalidArgument
        }
        let fd = try FileDescriptor.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK)
        do throws(Errno) {
            if exclusive {
                try fd.lockExclusively()
                _ = try syscallRetrying { ioctl(fd.rawValue, UInt(TIOCEXCL)) }
            }
            var settings = try fd.terminalAttributes()
            makeRaw(&settings)
            // CLOCAL: ignore modem status lines, so a missing DCD neither
            // blocks I/O nor hangs the line up. CREAD: enable the receiver.
            settings.c_cflag |= tcflag_t(CLOCAL | CREAD)
            // No HUPCL: the last close (a daemon restart, a crash) would drop DTR, and a modem set to AT&D2 ends
            // every call on a DTR drop, the centre's listen-in included. The modem keeps its calls; we adopt them.
            settings.c_cflag &= ~tcflag_t(HUPCL)
            if hardwareFlowControl {
                settings.c_cflag |= tcflag_t(CRTSCTS)
            } else {
                settings.c_cflag &= ~tcflag_t(CRTSCTS)
            }
            setReadReturnsAtOnce(&settings)
            _ = try syscallRetrying { cfsetispeed(&settings, speed) }
            _ = try syscallRetrying { cfsetospeed(&settings, speed) }
            try fd.setTerminalAttributes(settings)
            // tcsetattr(3) succeeds if *any* of the changes was applied; a
            // driver that silently drops the rate or CRTSCTS would give a
            // link that looks fine and garbles or loses data.
            var applied = try fd.terminalAttributes()
            if cfgetospeed(&applied) != speed
                || applied.c_cflag & tcflag_t(CRTSCTS) != settings.c_cflag & tcflag_t(CRTSCTS)
                || applied.c_cflag & tcflag_t(HUPCL) != 0
                || !isRaw(applied)
            {
                throw .invalidArgument
            }
            _ = try syscallRetrying { tcflush(fd.rawValue, TCIOFLUSH) }
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
        return fd
    }

    /// The line settings as the driver reports them, for tests and
    /// `alarmd --check`. `baud` is 0 when the rate is not one `open` accepts.
    public static func currentSettings(_ fd: FileDescriptor) throws(Errno) -> (baud: Int, hardwareFlowControl: Bool, raw: Bool) {
        var settings = try fd.terminalAttributes()
        let speed = cfgetospeed(&settings)
        let baud = rates.first(where: { $0.speed == speed })?.baud ?? 0
        return (baud, settings.c_cflag & tcflag_t(CRTSCTS) != 0, isRaw(settings))
    }

    /// Whether closing the line drops DTR (HUPCL): `open` clears it so a restart never hangs up the modem's calls.
    public static func hangsUpOnClose(_ fd: FileDescriptor) throws(Errno) -> Bool {
        let settings = try fd.terminalAttributes()
        return settings.c_cflag & tcflag_t(HUPCL) != 0
    }

    static func speed(for baud: Int) -> speed_t? {
        rates.first(where: { $0.baud == baud })?.speed
    }

    /// cfmakeraw(3) plus what it leaves on that would still alter binary
    /// data: IXOFF/IXANY (the driver would inject or react to XON/XOFF
    /// bytes), and CSTOPB (8N1 means one stop bit).
    static func makeRaw(_ settings: inout termios) {
        cfmakeraw(&settings)
        settings.c_iflag &= ~tcflag_t(IXOFF | IXANY)
        settings.c_cflag &= ~tcflag_t(CSTOPB | PARENB | CSIZE)
        settings.c_cflag |= tcflag_t(CS8)
    }

    /// True when no input, output or line processing would change a byte.
    static func isRaw(_ settings: termios) -> Bool {
        let input = tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF | IXANY)
        let local = tcflag_t(ECHO | ECHONL | ICANON | ISIG | IEXTEN)
        return settings.c_iflag & input == 0
            && settings.c_oflag & tcflag_t(OPOST) == 0
            && settings.c_lflag & local == 0
            && settings.c_cflag & tcflag_t(CSIZE | PARENB) == tcflag_t(CS8)
    }

    /// VMIN=1/VTIME=0, not VMIN=0: with VMIN=0 the tty driver answers a
    /// read(2) on an empty queue with 0 even under O_NONBLOCK, which is
    /// indistinguishable from a hang-up and would end every stream at its
    /// first empty read. With VMIN=1 an empty non-blocking read fails with
    /// EAGAIN, and a blocking read returns as soon as one byte is there; no
    /// inter-byte timer either way.
    static func setReadReturnsAtOnce(_ settings: inout termios) {
        setControlCharacter(&settings, index: VMIN, 1)
        setControlCharacter(&settings, index: VTIME, 0)
    }

    private static func setControlCharacter(_ settings: inout termios, index: Int32, _ value: UInt8) {
        // c_cc is imported as a fixed-size tuple, which has no subscript.
        withUnsafeMutableBytes(of: &settings.c_cc) { bytes in
            bytes[Int(index)] = value
        }
    }
}

extension FileDescriptor {
    func terminalAttributes() throws(Errno) -> termios {
        var settings = termios()
        _ = try syscallRetrying { tcgetattr(rawValue, &settings) }
        return settings
    }

    /// TCSANOW: nothing has been sent yet that a drain would protect, and
    /// TCSADRAIN could wait forever behind flow control.
    func setTerminalAttributes(_ settings: termios) throws(Errno) {
        var settings = settings
        _ = try syscallRetrying { tcsetattr(rawValue, TCSANOW, &settings) }
    }

    /// Non-blocking: a second daemon must fail at once, not queue up behind
    /// the first one.
    func lockExclusively() throws(Errno) {
        do throws(Errno) {
            _ = try syscallRetrying { flock(rawValue, LOCK_EX | LOCK_NB) }
        } catch where error == .wouldBlock {
            throw .deviceBusy
        }
    }
}
