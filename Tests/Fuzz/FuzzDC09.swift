import AlarmCodecs

/// libFuzzer target: bytes from a receiver through the DC-09 frame decoder, unwrap and the answer parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDC09(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    var framer = StreamFramer(DC09FrameDecoder())
    for item in framer.feed(bytes) {
        guard case .frame(let frame) = item else { continue }
        if let body = try? DC09Frame.unwrap(frame) {
            _ = DC09Response.parse(body)
        }
    }
    _ = DC09Response.parse(bytes)
    _ = DC09Timestamp.parse(String(decoding: bytes, as: UTF8.self))
    return 0
}
