import Glibc

/// Classifies a short capture window: is the microphone alive? A dead microphone (all zeros, or stuck at one value)
/// and a clipped one (saturated: a broken preamp, or a finger on the port) are device trouble; anything with a
/// believable level and some variation — a quiet room included — is plausible.
public enum MicrophoneCheck {
    public enum Verdict: Sendable, Hashable, CustomStringConvertible {
        case dead(String)
        case clipped(fraction: Double)
        case plausible(levelDBFS: Double)

        public var isFault: Bool {
            if case .plausible = self { return false }
            return true
        }

        public var description: String {
            switch self {
            case .dead(let why): "dead (\(why))"
            case .clipped(let fraction): "clipped (\(Int((fraction * 100).rounded())) % of samples at full scale)"
            case .plausible(let level): "plausible (\(Int(level.rounded())) dBFS)"
            }
        }
    }

    /// Full-scale samples beyond this share mean clipping.
    public static let clippingShare = 0.01
    /// Below this spread the signal is "constant": a real microphone always has some noise floor.
    public static let minimumSpread: Int32 = 3

    public static func classify(_ samples: [Int16]) -> Verdict {
        guard !samples.isEmpty else { return .dead("no samples") }
        if samples.allSatisfy({ $0 == 0 }) { return .dead("all zeros") }
        var low = Int32.max, high = Int32.min
        var clipped = 0
        var sum = 0.0, sumSquares = 0.0
        for sample in samples {
            let value = Int32(sample)
            low = min(low, value)
            high = max(high, value)
            if sample >= Int16.max - 1 || sample <= Int16.min + 1 { clipped += 1 }
            sum += Double(value)
            sumSquares += Double(value) * Double(value)
        }
        if high - low < minimumSpread { return .dead("constant at \(low)") }
        let share = Double(clipped) / Double(samples.count)
        if share > clippingShare { return .clipped(fraction: share) }
        let mean = sum / Double(samples.count)
        let variance = max(sumSquares / Double(samples.count) - mean * mean, 1e-9)
        let level = 20 * log10(variance.squareRoot() / 32768)
        return .plausible(levelDBFS: level)
    }
}
