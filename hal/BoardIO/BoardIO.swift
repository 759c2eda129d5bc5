// Board I/O on Linux: the button, indicator outputs, modem power lines and the battery, through the kernel's
// input, GPIO character-device, LED and power-supply interfaces.
import CBoardIO

/// The sizes of the kernel records as this build sees them. They are ABI: a mismatch (a 32-bit time_t
/// layout, a header from another kernel generation) would make every record misread, so tests pin them.
public enum KernelRecordSize {
    /// `struct gpio_v2_line_request`, handed to GPIO_V2_GET_LINE_IOCTL.
    public static let lineRequest = MemoryLayout<gpio_v2_line_request>.size
    /// `struct gpio_v2_line_event`, read from a line request's descriptor.
    public static let lineEvent = MemoryLayout<gpio_v2_line_event>.size
    /// `struct input_event`, read from /dev/input/event*.
    public static let inputEvent = MemoryLayout<input_event>.size
}
