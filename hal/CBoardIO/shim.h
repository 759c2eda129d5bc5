// The kernel's board-I/O ABI for Swift: the GPIO character device's v2 uAPI and the input subsystem.
// The ioctl request numbers are function-like macros (_IOWR…), which Swift cannot import, so each is
// wrapped in a static inline function here. No library is linked: everything is in the kernel headers.
#ifndef CBOARDIO_SHIM_H
#define CBOARDIO_SHIM_H

#include <linux/gpio.h>
#include <linux/input.h>
#include <sys/ioctl.h>

/// Requests lines of a chip; the answer's `fd` is the line request's own descriptor.
static inline unsigned long cboardio_gpio_v2_get_line_ioctl(void) { return GPIO_V2_GET_LINE_IOCTL; }
/// Sets the values of requested output lines (logical values: active-low is applied by the kernel).
static inline unsigned long cboardio_gpio_v2_line_set_values_ioctl(void) { return GPIO_V2_LINE_SET_VALUES_IOCTL; }
/// Reads the values of requested lines (logical values).
static inline unsigned long cboardio_gpio_v2_line_get_values_ioctl(void) { return GPIO_V2_LINE_GET_VALUES_IOCTL; }

/// Selects the clock of an input device's event timestamps (argument: a clockid_t as int). Per open file:
/// every open starts on CLOCK_REALTIME again.
static inline unsigned long cboardio_eviocsclockid_ioctl(void) { return EVIOCSCLOCKID; }

/// Reads the input device's key state: a bitmap of every key held down now (`length` bytes, KEY_MAX + 1 bits).
static inline unsigned long cboardio_eviocgkey_ioctl(unsigned int length) { return EVIOCGKEY(length); }

/// An input event's timestamp. The field is `time` (a struct timeval) on 64-bit and on 32-bit with a 32-bit
/// time_t, `__sec`/`__usec` on 32-bit userspace with a 64-bit time_t: the header's own macros pick the right one.
static inline long long cboardio_input_event_sec(const struct input_event *event) { return event->input_event_sec; }
static inline long long cboardio_input_event_usec(const struct input_event *event) { return event->input_event_usec; }

/// ioctl(2) is variadic in C; this fixed-signature form is callable from Swift.
static inline int cboardio_ioctl(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

#endif
