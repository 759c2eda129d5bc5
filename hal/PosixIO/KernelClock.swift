import Glibc

/// The kernel's own verdict on the system clock, read with `adjtimex(2)` (modes 0: read only, no privilege needed).
/// An NTP client that disciplines the clock (systemd-timesyncd on Raspberry Pi OS once the data link is up, chrony,
/// ntpd) clears `STA_UNSYNC`; after a boot without a real-time clock, or once the client stops, it is set.
public enum KernelClockStatus: Sendable, Hashable, CustomStringConvertible {
    /// `STA_UNSYNC` clear: the system clock is disciplined by NTP.
    case synchronised
    /// `STA_UNSYNC` set (`adjtimex` returns `TIME_ERROR`): nobody vouches for the system clock.
    case unsynchronised
    /// `adjtimex` failed, or the clock is not the system's (a simulated one): treated as unsynchronised.
    case unknown

    public var description: String {
        switch self {
        case .synchronised: "NTP-synchronised"
        case .unsynchronised: "not NTP-synchronised"
        case .unknown: "synchronisation unknown"
        }
    }
}

public enum KernelClock {
    /// `STA_UNSYNC` from <sys/timex.h>.
    static let unsynchronisedFlag: Int32 = 0x0040

    /// Reads the kernel's synchronisation status now.
    public static func status() -> KernelClockStatus {
        // <sys/timex.h> is not part of the Glibc module: the call is declared below and `struct timex` is a zeroed
        // buffer (modes 0 = read only) large enough for every ABI; `status` follows `modes` and four `long`s.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        let state = system_adjtimex(buffer)
        guard state != -1 else { return .unknown }
        let long = MemoryLayout<Int>.size
        let statusOffset = max(4, long) + 4 * long
        let bits = buffer.load(fromByteOffset: statusOffset, as: Int32.self)
        // TIME_ERROR (5) is also returned while STA_UNSYNC is set; either says "not synchronised".
        return state == 5 ? .unsynchronised : verdict(statusBits: bits)
    }

    /// The verdict for a `timex.status` word (separate for tests).
    public static func verdict(statusBits: Int32) -> KernelClockStatus {
        statusBits & unsynchronisedFlag == 0 ? .synchronised : .unsynchronised
    }
}

@_silgen_name("adjtimex")
private func system_adjtimex(_ buffer: UnsafeMutableRawPointer) -> Int32
