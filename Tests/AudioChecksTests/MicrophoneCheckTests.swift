import AudioChecks
import Glibc
import Testing

@Suite struct MicrophoneCheckTests {
    func generate(_ count: Int = 8000, _ f: (Int) -> Double) -> [Int16] {
        (0..<count).map { Int16(clamping: Int(f($0).rounded())) }
    }

    @Test func silenceAndConstantAreDead() {
        #expect(MicrophoneCheck.classify([Int16](repeating: 0, count: 8000)) == .dead("all zeros"))
        #expect(MicrophoneCheck.classify([Int16](repeating: 1234, count: 8000)) == .dead("constant at 1234"))
        #expect(MicrophoneCheck.classify(generate { Double(500 + $0 % 2) }).isFault)
        #expect(MicrophoneCheck.classify([]).isFault)
    }

    @Test func saturationIsClipped() {
        let square = generate { $0 % 40 < 20 ? 32767 : -32768 }
        guard case .clipped(let share) = MicrophoneCheck.classify(square) else {
            Issue.record("a full-scale square wave is clipping")
            return
        }
        #expect(share > 0.9)
        // Loud speech that touches full scale now and then is still speech.
        let loud = generate { Double(20000) * sin(Double($0) * 0.05) + ($0 % 500 == 0 ? 20000 : 0) }
        #expect(!MicrophoneCheck.classify(loud).isFault)
    }

    @Test func noiseAndSpeechLikeArePlausible() {
        var seed: UInt32 = 1
        let noise = generate { _ in
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Double(Int(seed >> 16) % 600 - 300)
        }
        guard case .plausible(let quiet) = MicrophoneCheck.classify(noise) else {
            Issue.record("a quiet room's noise floor is a live microphone")
            return
        }
        #expect(quiet < -35)
        // Syllables: a 180 Hz voice under a 4 Hz envelope at 8 kHz.
        let speech = generate { i in
            let t = Double(i) / 8000
            return 8000 * max(0, sin(2 * Double.pi * 4 * t)) * sin(2 * Double.pi * 180 * t)
        }
        guard case .plausible(let level) = MicrophoneCheck.classify(speech) else {
            Issue.record("speech-like signal should be plausible")
            return
        }
        #expect(level > quiet)
    }
}
