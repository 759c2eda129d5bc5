import AlarmCore
import Glibc
import HAL
import PosixIO
import Synchronization

/// A GPIO line driven as an output through the v2 uAPI (`gpio:/dev/gpiochip0?line=18[&active=low]`).
/// The line is requested at the first `set`, with that value as its initial level (no glitch to the other
/// level), and held for the life of the process: closing the request would hand the line back to the
/// kernel, whose level then is undefined. A failed request is retried at the next `set`.
public final class GPIOOutputLine: OutputLine {
    public let chip: String
    public let line: UInt32
    public let activeLow: Bool
    private let consumer: String
    private let request = Mutex<FileDescriptor?>(nil)

    public init(chip: String, line: UInt32, activeLow: Bool = false, consumer: String = "alarmd") {
        self.chip = chip
        self.line = line
        self.activeLow = activeLow
        self.consumer = consumer
    }

    deinit {
        if let fd = request.withLock({ $0 }) { try? fd.close() }
    }

    public func set(active: Bool) throws(HALError) {
        try request.withLock { (held: inout FileDescriptor?) throws(HALError) in
            do throws(Errno) {
                if let fd = held {
                    try GPIOChip.set(fd, active: active)
                } else {
                    held = try GPIOChip.request(GPIOLineRequest(offset: line, consumer: consumer,
                                                                direction: .output(initiallyActive: active),
                                                                activeLow: activeLow), chip: chip)
                }
            } catch {
                let kind: FaultKind = error == .noSuchFile || error == .noSuchDevice ? .unavailable : .io
                throw HALError(kind, "\(chip) line \(line): cannot set \(active ? "active" : "inactive"): \(error)")
            }
        }
    }
}
