/// libFuzzer target: board files through the JSON5 reader (compiled together with JSONValue.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON5(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    _ = try? JSONValue.parseJSON5(bytes)
    return 0
}
