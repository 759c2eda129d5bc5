import AlarmCore
import CLibGPS

/// libFuzzer target: a line from gpsd through libgps's JSON unpacker and our mapping of its fix (compiled with
/// hal/GPSD/GPSFixMapping.swift). Whatever gpsd says, the daemon must not trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGPSD(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var bytes = Array(UnsafeRawBufferPointer(start: start, count: min(count, 8192)).map { CChar(bitPattern: $0) })
    bytes.append(0)
    var data = gps_data_t()
    _ = bytes.withUnsafeMutableBufferPointer { gps_unpack($0.baseAddress, &data) }
    _ = GPSFixMapping.fix(from: data.fix, fallbackTime: WallTime(millisecondsSince1970: 0))
    return 0
}
