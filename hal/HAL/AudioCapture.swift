import AlarmCore

public struct AudioFrame: Sendable {
    public var samples: [Int16]
    public var sampleRate: Int
    public var capturedAt: Instant
    public init(samples: [Int16], sampleRate: Int, capturedAt: Instant) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.capturedAt = capturedAt
    }
}

/// The microphone: PCM frames while started.
public protocol AudioCapture: Sendable {
    func start(_ frames: @escaping @Sendable (Result<AudioFrame, HALError>) -> Void) throws(HALError)
    func stop()
}
