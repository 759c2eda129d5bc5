import ALSA
import AlarmCore
import Dispatch
import Glibc
import HAL
import Logging
import PosixIO
import Synchronization
import Testing

/// An output that stays blocked until released: the modem side has fallen behind.
final class StalledOutput: VoiceOutput {
    let played = Mutex<[[Int16]]>([])
    let release = DispatchSemaphore(value: 0)
    let isReleased = Mutex(false)
    func play(_ samples: [Int16]) throws(HALError) {
        if !isReleased.withLock({ $0 }) {
            release.wait()
            isReleased.withLock { $0 = true }
        }
        played.withLock { $0.append(samples) }
    }
    func close() {}
}

@Suite struct AudioBridgeTests {
    let logger = Logger(label: "bridge", factory: { _ in SwiftLogNoOpLogHandler() })

    func frame(_ n: Int) -> [Int16] { (0..<160).map { Int16(truncatingIfNeeded: n * 160 + $0) } }

    @Test func capturedFramesReachTheModemPlaybackPCMInOrder() throws {
        let dir = "/tmp/alarm-bridge-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = try StorageDirectory(path: dir)
        let config = """
            pcm.modemvoice {
                type file
                slave.pcm { type null }
                file "\(dir)/out.raw"
                format "raw"
            }
            """
        let output = try ALSAPlayback(pcm: "modemvoice", configText: config)
        // A bound above the whole clip: nothing may be dropped here, whatever the scheduling (the bound has its own test).
        let bridge = AudioBridge(open: { output }, bound: .seconds(2), logger: logger)
        bridge.start()
        var expected: [Int16] = []
        for n in 0..<50 {
            bridge.push(frame(n))
            expected += frame(n)
        }
        bridge.stop()
        let bytes = try #require(try StorageDirectory.readFile(dir + "/out.raw"))
        let written = stride(from: 0, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
        #expect(bridge.droppedSamples == 0)
        #expect(Array(written.prefix(expected.count)) == expected)
    }

    @Test func theQueueNeverHoldsMoreThanTheBound() throws {
        let output = StalledOutput()
        let bridge = AudioBridge(open: { output }, bound: .milliseconds(60), logger: logger)
        bridge.start()
        for n in 0..<100 { bridge.push(frame(n)) }
        #expect(bridge.maximumQueuedSamples <= 480, "60 ms at 8 kHz")
        #expect(bridge.droppedSamples > 0)
        output.release.signal()
        bridge.stop()
        // What was played is in order and ends with the newest audio (the ramp never wraps here).
        let played = output.played.withLock { $0 }.flatMap { $0 }
        #expect(zip(played, played.dropFirst()).allSatisfy { $0 < $1 })
        #expect(played.suffix(160) == ArraySlice(frame(99)))
        #expect(bridge.writtenSamples + bridge.droppedSamples == 100 * 160)
    }

    /// A 16 kHz microphone into the modem's 8 kHz voice: every pair of samples becomes their mean, across frame
    /// boundaries too, so the centre hears the room at the right speed and nothing is dropped.
    @Test func a16kHzMicrophoneIsHalvedForThe8kHzModem() throws {
        let output = StalledOutput()
        output.release.signal()
        let bridge = AudioBridge(open: { output }, sampleRate: 8000, bound: .seconds(2), logger: logger)
        bridge.start()
        // Frames of odd length (161 samples): a pair spans two frames now and then.
        var captured: [Int16] = []
        for n in 0..<20 {
            let samples = (0..<161).map { Int16(truncatingIfNeeded: (n * 161 + $0) * 3) }
            captured += samples
            bridge.push(AudioFrame(samples: samples, sampleRate: 16000, capturedAt: .origin))
        }
        bridge.stop()
        let played = output.played.withLock { $0 }.flatMap { $0 }
        let expected = stride(from: 0, to: captured.count - 1, by: 2).map { Int16((Int32(captured[$0]) + Int32(captured[$0 + 1])) / 2) }
        #expect(played == expected)
        #expect(bridge.droppedSamples == 0)
    }

    /// 8 kHz frames pass unchanged; a rate the bridge cannot convert is dropped, never played at the wrong speed.
    @Test func otherRatesAreNeverPlayedAtTheWrongSpeed() throws {
        let output = StalledOutput()
        output.release.signal()
        let bridge = AudioBridge(open: { output }, sampleRate: 8000, bound: .seconds(2), logger: logger)
        bridge.start()
        bridge.push(AudioFrame(samples: frame(1), sampleRate: 8000, capturedAt: .origin))
        bridge.push(AudioFrame(samples: frame(2), sampleRate: 44100, capturedAt: .origin))
        bridge.stop()
        #expect(output.played.withLock { $0 }.flatMap { $0 } == frame(1))
        #expect(bridge.droppedSamples == 160)
    }
}
