import AlarmCore
import CBoardIO
import Glibc
import PosixIO

/// The pull resistor a GPIO input asks for. `asIs` leaves whatever the device tree configured.
public enum GPIOBias: String, Sendable, CaseIterable {
    case pullUp = "pull-up"
    case pullDown = "pull-down"
    case disabled
    case asIs = "as-is"
}

/// What we ask of one GPIO line, before it becomes the kernel's `gpio_v2_line_request`. Kept apart from the
/// ioctl so the encoding can be checked on a machine without a gpiochip.
struct GPIOLineRequest: Sendable, Equatable {
    enum Direction: Sendable, Equatable {
        /// Edge events on both edges.
        case input
        /// Driven from the moment of the request: no glitch to the other level while the line is taken.
        case output(initiallyActive: Bool)
    }

    var offset: UInt32
    var consumer: String
    var direction: Direction
    var activeLow = false
    var bias: GPIOBias = .asIs
    /// The kernel's own debounce (gpiolib applies it in hardware or emulates it); nil for none.
    var debounce: Duration?

    var flags: UInt64 {
        var flags: UInt64 = 0
        switch direction {
        case .input:
            // Never GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME or _HTE: event timestamps stay on CLOCK_MONOTONIC,
            // the timeline the button's edges are stamped on.
            flags |= UInt64(GPIO_V2_LINE_FLAG_INPUT.rawValue) | UInt64(GPIO_V2_LINE_FLAG_EDGE_RISING.rawValue)
                | UInt64(GPIO_V2_LINE_FLAG_EDGE_FALLING.rawValue)
        case .output:
            flags |= UInt64(GPIO_V2_LINE_FLAG_OUTPUT.rawValue)
        }
        if activeLow { flags |= UInt64(GPIO_V2_LINE_FLAG_ACTIVE_LOW.rawValue) }
        switch bias {
        case .pullUp: flags |= UInt64(GPIO_V2_LINE_FLAG_BIAS_PULL_UP.rawValue)
        case .pullDown: flags |= UInt64(GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN.rawValue)
        case .disabled: flags |= UInt64(GPIO_V2_LINE_FLAG_BIAS_DISABLED.rawValue)
        case .asIs: break
        }
        return flags
    }

    /// The ioctl's argument. One line per request, so every attribute's mask is bit 0 (the first offset).
    var kernelRequest: gpio_v2_line_request {
        var request = gpio_v2_line_request()
        withUnsafeMutableBytes(of: &request.offsets) { $0.storeBytes(of: offset, as: UInt32.self) }
        withUnsafeMutableBytes(of: &request.consumer) { raw in
            // NUL-terminated, truncated to fit (the kernel shows it in gpioinfo).
            for (index, byte) in consumer.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        request.num_lines = 1
        request.config.flags = flags
        var attributes: [gpio_v2_line_config_attribute] = []
        if case .output(let active) = direction {
            var attribute = gpio_v2_line_config_attribute()
            attribute.attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES.rawValue
            attribute.attr.values = active ? 1 : 0
            attribute.mask = 1
            attributes.append(attribute)
        }
        if case .input = direction, let debounce, debounce > .zero {
            var attribute = gpio_v2_line_config_attribute()
            attribute.attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE.rawValue
            attribute.attr.debounce_period_us = UInt32(clamping: debounce.microseconds)
            attribute.mask = 1
            attributes.append(attribute)
        }
        request.config.num_attrs = UInt32(attributes.count)
        withUnsafeMutableBytes(of: &request.config.attrs) { raw in
            for (index, attribute) in attributes.enumerated() {
                raw.storeBytes(of: attribute, toByteOffset: index * MemoryLayout<gpio_v2_line_config_attribute>.stride,
                               as: gpio_v2_line_config_attribute.self)
            }
        }
        return request
    }

    /// The request's bytes as the ioctl hands them to the kernel.
    var kernelBytes: [UInt8] {
        var request = kernelRequest
        return withUnsafeBytes(of: &request) { Array($0) }
    }
}

extension Duration {
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}

/// The three ioctls we make on a GPIO character device: a thin layer, the part only a real chip can test.
enum GPIOChip {
    /// Opens `chip`, requests the line and returns the request's own descriptor (the chip's is closed again:
    /// the line stays ours for as long as the returned descriptor is open).
    static func request(_ line: GPIOLineRequest, chip: String) throws(Errno) -> FileDescriptor {
        // Read-write as libgpiod opens it; /dev/gpiochip* is rw for group gpio on Raspberry Pi OS.
        let chipFD = try FileDescriptor.open(chip, O_RDWR)
        defer { try? chipFD.close() }
        var request = line.kernelRequest
        try DeviceControl.ioctl(chipFD, cboardio_gpio_v2_get_line_ioctl(), &request)
        let lineFD = FileDescriptor(rawValue: request.fd)
        // The request's descriptor is not close-on-exec by default; no helper process should hold the line.
        _ = fcntl(lineFD.rawValue, F_SETFD, FD_CLOEXEC)
        return lineFD
    }

    /// The logical level (active-low already applied by the kernel).
    static func isActive(_ lineFD: FileDescriptor) throws(Errno) -> Bool {
        var values = gpio_v2_line_values()
        values.mask = 1
        try DeviceControl.ioctl(lineFD, cboardio_gpio_v2_line_get_values_ioctl(), &values)
        return values.bits & 1 != 0
    }

    static func set(_ lineFD: FileDescriptor, active: Bool) throws(Errno) {
        var values = gpio_v2_line_values()
        values.mask = 1
        values.bits = active ? 1 : 0
        try DeviceControl.ioctl(lineFD, cboardio_gpio_v2_line_set_values_ioctl(), &values)
    }
}
