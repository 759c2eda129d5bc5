import AlarmCodecs

/// libFuzzer target: PDUs as AT+CMGR / AT+CMGL return them (hex) and raw octets through both decoders, and centre
/// command texts through their parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSMS(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let asText = String(decoding: bytes, as: UTF8.self)
    let asHex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    // Centre commands: the shape (the MAC needs the key and is checked elsewhere); base64 must round-trip.
    if let command = try? SMSCommandText.parse(asText) {
        precondition(command.mac.count == 16)
    }
    _ = Base64.decode(asText)
    for candidate in [asText, asHex] {
        _ = try? SMSPDU.decodeDeliver(hex: candidate)
        _ = try? SMSPDU.decodeSubmit(hex: candidate)
    }
    return 0
}
