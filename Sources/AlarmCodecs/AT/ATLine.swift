/// One unit of what an AT modem sends, as cut by `ATStreamDecoder`.
public enum ATLine: Sendable, Hashable {
    /// One non-empty response line without its line ending and surrounding spaces.
    case text(String)
    /// The "> " prompt of AT+CMGS; it has no line ending, so it must be delivered on its own.
    case prompt
    /// Bytes dropped because the line held control bytes or invalid UTF-8, or exceeded the line bound.
    /// Reported rather than swallowed so the engine can count line noise and spot a wrong baud rate.
    case garbage(Int)

    /// True when this line is the modem echoing `command` back (ATE1). Modems echo what they received,
    /// so the comparison ignores ASCII case and the line ending the caller may have left on `command`.
    public func isEcho(of command: String) -> Bool {
        guard case .text(let line) = self else { return false }
        let sent = ATText.trimmed(command)
        return !sent.isEmpty && ATText.uppercasedASCII(line) == ATText.uppercasedASCII(sent)
    }
}
