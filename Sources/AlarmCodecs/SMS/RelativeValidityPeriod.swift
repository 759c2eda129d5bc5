/// TP-VP in relative format (3GPP TS 23.040 9.2.3.12.1). The octet has four ranges of
/// increasing step, so most durations are not exactly representable.
enum RelativeValidityPeriod {
    /// Rounds up to the next representable period: an alarm SMS expiring before the requested
    /// time is worse than one that lingers a little longer. Values below the 5-minute minimum
    /// get the minimum; values beyond 63 weeks get 63 weeks.
    static func encode(minutes: Int) -> UInt8 {
        let hour = 60, day = 24 * hour, week = 7 * day
        switch minutes {
        case ..<5:
            return 0
        case ...(12 * hour):
            // 0...143: (VP + 1) × 5 minutes.
            return UInt8(ceilingDivide(minutes, 5) - 1)
        case ...day:
            // 144...167: 12 hours + (VP − 143) × 30 minutes.
            return UInt8(143 + ceilingDivide(minutes - 12 * hour, 30))
        case ...(30 * day):
            // 168...196: (VP − 166) days.
            return UInt8(166 + ceilingDivide(minutes, day))
        case ...(63 * week):
            // 197...255: (VP − 192) weeks; 30 days rounds up to the first of them, 5 weeks.
            return UInt8(192 + ceilingDivide(minutes, week))
        default:
            return 255
        }
    }

    /// The period an encoded octet stands for, so tests can check the rounding.
    static func minutes(_ value: UInt8) -> Int {
        let period = Int(value)
        switch period {
        case ...143: return (period + 1) * 5
        case ...167: return 12 * 60 + (period - 143) * 30
        case ...196: return (period - 166) * 24 * 60
        default: return (period - 192) * 7 * 24 * 60
        }
    }

    private static func ceilingDivide(_ value: Int, _ divisor: Int) -> Int {
        (value + divisor - 1) / divisor
    }
}
