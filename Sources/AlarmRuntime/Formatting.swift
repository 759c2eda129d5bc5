/// "±6 m", or "±? m" when a receiver reports no usable accuracy (gpsd gives NaN for unknown values,
/// and converting NaN or infinity to Int would trap).
public func accuracyText(_ metres: Double) -> String {
    guard metres.isFinite, metres >= 0, metres < 1e7 else { return "±? m" }
    return "±\(Int(metres.rounded())) m"
}
