/// `+CSQ: <rssi>,<ber>`.
public struct SignalQuality: Sendable, Hashable {
    /// 0…31, nil when the modem reports 99 (not known or not detectable).
    public var rssi: Int?
    /// 0…7 (RxQual), nil for 99.
    public var bitErrorRate: Int?

    public init(rssi: Int?, bitErrorRate: Int? = nil) {
        self.rssi = rssi
        self.bitErrorRate = bitErrorRate
    }

    /// 27.007 maps rssi n to -113 + 2n dBm; 0 and 31 are open-ended (≤ -113, ≥ -51).
    public var dBm: Int? { rssi.map { -113 + 2 * $0 } }

    /// Values outside 0…31 (99, and the 100…191 TD-SCDMA range) give a nil rssi rather than a failed parse,
    /// since the line itself is a valid answer meaning "no usable signal figure".
    public static func parse(_ line: String) -> SignalQuality? {
        guard let payload = ATText.payload(of: line, named: "+CSQ") else { return nil }
        let fields = ATField.split(payload)
        guard let rssi = fields.first?.int else { return nil }
        let ber = fields.count > 1 ? fields[1].int : nil
        return SignalQuality(rssi: (0...31).contains(rssi) ? rssi : nil,
                             bitErrorRate: ber.flatMap { (0...7).contains($0) ? $0 : nil })
    }
}
