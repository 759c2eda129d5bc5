// Tests of hal/BoardIO against the kernel interfaces' real file formats.
import BoardIO
import Testing

/// The kernel records as Swift imports them from <linux/gpio.h> and <linux/input.h> (64-bit layout).
@Suite struct KernelRecordSizeTests {
    @Test func recordSizesMatchTheKernelABI() {
        #expect(KernelRecordSize.lineRequest == 592)
        #expect(KernelRecordSize.lineEvent == 48)
        #expect(KernelRecordSize.inputEvent == 24)
    }
}
