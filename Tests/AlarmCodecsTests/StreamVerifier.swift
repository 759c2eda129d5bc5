import AlarmCodecs

/// Feeds the same input one byte at a time, all at once and split at random points, and returns the
/// messages of each way; a decoder is correct only if all agree (swift-nio's ByteToMessageDecoderVerifier idea).
func decodeEveryWay<D: ByteStreamDecoder>(_ input: [UInt8], _ make: () -> D, seeds: ClosedRange<UInt64> = 1...20)
    -> [[D.Message]] {
    var results: [[D.Message]] = []
    var whole = StreamFramer(make())
    results.append(whole.feed(input))
    var single = StreamFramer(make())
    results.append(input.flatMap { single.feed([$0]) })
    for seed in seeds {
        var rng = SplitMix64(seed: seed)
        var framer = StreamFramer(make())
        var messages: [D.Message] = []
        var index = 0
        while index < input.count {
            let length = Int(rng.next() % 17) + 1
            let end = min(index + length, input.count)
            messages += framer.feed(input[index..<end])
            index = end
        }
        results.append(messages)
    }
    return results
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
