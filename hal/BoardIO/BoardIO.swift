// Board I/O on Linux: the button, indicator outputs, modem power lines and the battery, through the kernel's
// input, GPIO character-device, LED and power-supply interfaces.
