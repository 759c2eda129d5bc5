public enum SMSPDUError: Error, Sendable, Hashable {
    /// Carries the number as given, so a misconfigured contact shows up verbatim in the log.
    case invalidNumber(String)
    /// The number of parts the text would have needed (more than the 255 an 8-bit
    /// concatenation header can count).
    case textTooLong(parts: Int)
    /// What was wrong, for the emulator's log; not meant for matching.
    case malformed(String)
}
