/// Cuts the byte stream of an AT command port into `ATLine`s.
///
/// Any CR or LF ends a line and empty lines are skipped, so CRLF, LF, CR and LFCR endings (and the
/// "AT+CSQ\r\r\n" of echo mode) all come out the same without having to wait for the byte after a CR: a
/// final result is delivered the moment its first line-ending byte arrives.
///
/// Like `LineDecoder`, it consumes bytes it has already judged (line endings, bytes of an overlong line)
/// even when it returns nil; that is what keeps memory bounded while a runaway line is being skipped.
public struct ATStreamDecoder: ByteStreamDecoder, Sendable {
    public let maximumLineLength: Int
    /// The prompt is only recognised here; "> " in the middle of a line is text.
    private var atLineStart = true
    /// Bytes of an overlong line thrown away so far; the line is reported once its end arrives.
    private var discarding = 0

    public init(maximumLineLength: Int = 1024) { self.maximumLineLength = max(2, maximumLineLength) }

    public mutating func decode(_ buffer: inout [UInt8]) -> ATLine? {
        while true {
            if discarding > 0 {
                guard let end = buffer.firstIndex(where: Self.isLineEnd) else {
                    discarding += buffer.count
                    buffer.removeAll(keepingCapacity: true)
                    return nil
                }
                let dropped = discarding + end
                buffer.removeSubrange(...end)
                discarding = 0
                atLineStart = true
                return .garbage(dropped)
            }

            let skipped = buffer.prefix(while: Self.isLineEnd).count
            if skipped > 0 {
                buffer.removeFirst(skipped)
                atLineStart = true
            }
            guard let first = buffer.first else { return nil }

            if atLineStart && first == UInt8(ascii: ">") {
                guard buffer.count >= 2 else { return nil }
                if buffer[1] == UInt8(ascii: " ") {
                    buffer.removeFirst(2)
                    // What follows the prompt on the same line (the echoed PDU) is not a new line.
                    atLineStart = false
                    return .prompt
                }
            }

            guard let end = buffer.firstIndex(where: Self.isLineEnd) else {
                if buffer.count > maximumLineLength {
                    discarding = buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
                return nil
            }
            let line = buffer[..<end]
            buffer.removeSubrange(...end)
            atLineStart = true
            if line.count > maximumLineLength { return .garbage(line.count) }
            guard !line.contains(where: Self.isForbidden), let text = String(validating: line, as: UTF8.self) else {
                return .garbage(line.count)
            }
            let trimmed = ATText.trimmed(text)
            // A line of only spaces is as empty as a blank line; keep looking rather than return nil.
            if trimmed.isEmpty { continue }
            return .text(trimmed)
        }
    }

    private static func isLineEnd(_ byte: UInt8) -> Bool { byte == 0x0D || byte == 0x0A }

    /// Control bytes in a response line mean line noise or a baud-rate mismatch, never modem output.
    private static func isForbidden(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != 0x09) || byte == 0x7F }
}
