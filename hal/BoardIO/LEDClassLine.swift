import Glibc
import HAL
import PosixIO
import Synchronization

/// An output through the kernel's LED class (`/sys/class/leds/NAME`): a `gpio-led` overlay turns any GPIO
/// into one, with polarity set in the device tree. Active writes `max_brightness`, inactive writes 0.
/// Writing a brightness also ends any trigger (heartbeat, mmc0) the LED was given.
public final class LEDClassLine: OutputLine {
    public let directory: String
    private let maximum = Mutex<Int?>(nil)

    public init(directory: String) {
        self.directory = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    }

    public func set(active: Bool) throws(HALError) {
        let value = active ? try maxBrightness() : 0
        let path = directory + "/brightness"
        do throws(Errno) {
            // O_TRUNC as a shell's `>` does; sysfs ignores it, a plain file (tests) needs it.
            let fd = try FileDescriptor.open(path, O_WRONLY | O_TRUNC)
            defer { try? fd.close() }
            try fd.writeAll(Array("\(value)\n".utf8))
        } catch {
            throw HALError(error == .noSuchFile ? .unavailable : .io, "\(path): cannot write \(value): \(error)")
        }
    }

    /// Read once: it is fixed by the driver.
    private func maxBrightness() throws(HALError) -> Int {
        if let known = maximum.withLock({ $0 }) { return known }
        let path = directory + "/max_brightness"
        let bytes: [UInt8]?
        do {
            bytes = try StorageDirectory.readFile(path, limit: 64)
        } catch {
            throw HALError(.io, "\(path): cannot read: \(error)")
        }
        guard let bytes else { throw HALError(.unavailable, "\(path): missing (is \(directory) an LED class device?)") }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let value = SysfsValue.integer(text), value > 0 else {
            throw HALError(.io, "\(path): expected a positive number, got \"\(SysfsValue.shown(text))\"")
        }
        maximum.withLock { $0 = value }
        return value
    }
}

/// The shape of a sysfs attribute: one value and a newline.
enum SysfsValue {
    static func trimmed(_ text: String) -> Substring {
        var text = Substring(text)
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return text
    }

    static func integer(_ text: String) -> Int? { Int(trimmed(text)) }

    /// For log lines: short and without control characters.
    static func shown(_ text: String) -> String {
        String(trimmed(text).prefix(40).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0.isPunctuation || $0 == " ") ? $0 : "?" })
    }
}
