import Glibc

/// A pty pair for emulating a serial device (modem, GNSS) in tests and the
/// simulator: the emulator keeps `controller` and streams over it; the code
/// under test opens `devicePath` with `SerialPort.open` exactly as it would
/// open /dev/ttyUSB2, including baud and CRTSCTS settings, which a pty
/// accepts and stores without acting on them.
///
/// Linux behaviour the emulator has to live with (checked by the tests):
/// - Before the device side is opened for the first time, reading the
///   controller just reports EAGAIN.
/// - Once the device side has been opened and every descriptor to it is
///   closed again, the controller first returns any bytes still buffered and
///   then fails with EIO (not end-of-file), and poll reports POLLHUP on every
///   call until the device is reopened. A `StreamConnection` on the
///   controller therefore ends with `onClose(EIO)` when the driver closes the
///   port; to survive a driver restart, create a new `PseudoTerminal` (a new
///   `devicePath`), or keep a descriptor of your own open on `devicePath`.
/// - When the controller is closed, the device side is hung up: reads return
///   end-of-file (0) and writes fail with EIO, for good.
/// - TIOCEXCL set by an exclusive `SerialPort.open` stays on the device side
///   after that descriptor is closed, so non-root processes cannot reopen it
///   (root can).
/// - Hang-ups are seen only when the last copy of a descriptor is closed; a
///   process forked elsewhere holds copies until it execs, so wait for the
///   hang-up (poll, stream callbacks) rather than expecting it at once.
///
/// Not a class with deinit, like `FileDescriptor`: the emulator closes
/// `controller` (usually by handing it to a `StreamConnection`).
public struct PseudoTerminal: Sendable {
    public let controller: FileDescriptor
    /// /dev/pts/N; valid for as long as `controller` is open.
    public let devicePath: String

    /// The controller is non-blocking and close-on-exec. The line is set to
    /// raw mode from the controller side, so bytes pass unchanged (no echo,
    /// no CR/LF translation, no ^Z or ^C handling) even before the driver has
    /// configured the device side itself: on Linux, termios requests on a
    /// pty controller act on the device side's settings, which are the ones
    /// that process data in both directions.
    public static func open() throws(Errno) -> PseudoTerminal {
        // Exactly what glibc's posix_openpt(3) does on Linux, but through our
        // open wrapper so O_CLOEXEC is set atomically and EINTR retried.
        // O_NOCTTY: the emulator must not acquire the pty as its controlling
        // terminal.
        let controller = try FileDescriptor.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK)
        do throws(Errno) {
            guard let grant = Functions.grantpt, let unlock = Functions.unlockpt, let name = Functions.ptsname_r else {
                throw Errno(ENOSYS)
            }
            // grantpt is a permission check only with devpts, which creates
            // the device node owned by the caller; kept for portability.
            _ = try syscallOnce { grant(controller.rawValue) }
            _ = try syscallOnce { unlock(controller.rawValue) }
            let devicePath = try deviceName(controller, name)
            var settings = try controller.terminalAttributes()
            SerialPort.makeRaw(&settings)
            settings.c_cflag |= tcflag_t(CLOCAL | CREAD)
            SerialPort.setReadReturnsAtOnce(&settings)
            try controller.setTerminalAttributes(settings)
            return PseudoTerminal(controller: controller, devicePath: devicePath)
        } catch {
            controller.closeIgnoringErrors()
            throw error
        }
    }

    private static func deviceName(_ controller: FileDescriptor, _ ptsname: Functions.PtsnameR) throws(Errno) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        // ptsname_r returns the error number instead of setting errno.
        let result = ptsname(controller.rawValue, &buffer, buffer.count)
        if result != 0 {
            throw Errno(result)
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The XSI pty functions are not exported by the Glibc module (they need
    /// _XOPEN_SOURCE), so they are looked up at run time like accept4. They
    /// are in every glibc; nil only on an exotic libc, reported as ENOSYS.
    private enum Functions {
        typealias Control = @convention(c) (Int32) -> Int32
        typealias PtsnameR = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32

        static let grantpt: Control? = lookup("grantpt")
        static let unlockpt: Control? = lookup("unlockpt")
        static let ptsname_r: PtsnameR? = lookup("ptsname_r")

        private static func lookup<F>(_ name: String) -> F? {
            guard let symbol = dlsym(nil, name) else { return nil }
            return unsafeBitCast(symbol, to: F.self)
        }
    }
}
