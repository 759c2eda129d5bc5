/// `+CBC: <bcs>,<bcl>[,<voltage>]`.
public struct BatteryCharge: Sendable, Hashable {
    /// Kept raw because its meaning is vendor-specific: 27.007 has 0 on battery, 1 battery connected but
    /// not powered by it, 2 no battery, 3 power fault; Quectel has 0 not charging, 1 charging, 2 charge complete.
    public var status: Int
    /// 0…100.
    public var percent: Int
    /// Millivolts (Quectel, SIMCom); nil when the modem gives only two fields.
    public var millivolts: Int?

    public init(status: Int, percent: Int, millivolts: Int? = nil) {
        self.status = status
        self.percent = percent
        self.millivolts = millivolts
    }

    public static func parse(_ line: String) -> BatteryCharge? {
        guard let payload = ATText.payload(of: line, named: "+CBC") else { return nil }
        let fields = ATField.split(payload)
        guard fields.count >= 2, let status = fields[0].int,
              let percent = fields[1].int, (0...100).contains(percent) else { return nil }
        return BatteryCharge(status: status, percent: percent, millivolts: fields.count > 2 ? fields[2].int : nil)
    }
}
