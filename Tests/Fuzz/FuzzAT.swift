import AlarmCodecs

/// libFuzzer target: bytes from a modem (split at a point the input chooses) through the AT stream decoder and every
/// line parser the driver uses. Nothing may crash, and the decoder must not buffer beyond its bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAT(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    var framer = StreamFramer(ATStreamDecoder(maximumLineLength: 256))
    var lines = framer.feed(bytes[..<split])
    lines += framer.feed(bytes[split...])
    precondition(framer.pendingByteCount <= 256 + 2, "the AT decoder buffered beyond its bound")
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(separator: "\n").map(String.init) + [text] {
        _ = ATUnsolicited.parse(line)
        _ = ATUnsolicited.isAlwaysUnsolicited(line)
        _ = ATFinalResult.parse(line)
        _ = CallListEntry.parse(line)
        _ = RegistrationReport.parse(line, solicited: true)
        _ = RegistrationReport.parse(line, solicited: false)
        _ = NetworkClock.parse(line)
        _ = PDPContextState.parse(line)
        _ = PDPAddress.parse(line)
        _ = PacketDomainEvent.parse(line)
        _ = StoredMessage.listedIndex(line)
        _ = StoredMessage.pdu(line)
    }
    _ = lines.count
    return 0
}
