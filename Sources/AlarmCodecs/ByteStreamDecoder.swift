/// A decoder over a byte stream, shaped like swift-nio's `ByteToMessageDecoder`: it takes at most one
/// message off the front of the buffer per call and leaves incomplete input where it is, so the
/// same input split anywhere decodes to the same messages.
public protocol ByteStreamDecoder {
    associatedtype Message
    /// Removes one message from the front of `buffer`, or returns nil (consuming nothing) when more bytes are needed.
    mutating func decode(_ buffer: inout [UInt8]) -> Message?
}

/// Accumulates bytes as they arrive and hands out every complete message.
public struct StreamFramer<Decoder: ByteStreamDecoder> {
    public var decoder: Decoder
    private var buffer: [UInt8] = []

    public init(_ decoder: Decoder) { self.decoder = decoder }

    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [Decoder.Message] {
        buffer.append(contentsOf: bytes)
        var messages: [Decoder.Message] = []
        while let message = decoder.decode(&buffer) { messages.append(message) }
        return messages
    }

    /// Bytes received but not yet part of a complete message.
    public var pendingByteCount: Int { buffer.count }
}

/// Splits a stream into lines ended by LF (a CR before it is dropped). A line longer than
/// `maximumLength` is discarded up to its end and reported as `.overlong`, so one runaway
/// sender cannot make us buffer without bound, and the next valid line still arrives.
public struct LineDecoder: ByteStreamDecoder {
    public enum Line: Equatable, Sendable {
        case line([UInt8])
        case overlong(discarded: Int)
    }

    public let maximumLength: Int
    private var discarding = 0

    public init(maximumLength: Int = 4096) { self.maximumLength = maximumLength }

    public mutating func decode(_ buffer: inout [UInt8]) -> Line? {
        if let end = buffer.firstIndex(of: 0x0A) {
            var line = Array(buffer[..<end])
            buffer.removeSubrange(...end)
            if discarding > 0 || line.count > maximumLength {
                let discarded = discarding + line.count
                discarding = 0
                return .overlong(discarded: discarded)
            }
            if line.last == 0x0D { line.removeLast() }
            return .line(line)
        }
        if buffer.count > maximumLength {
            discarding += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        return nil
    }
}
