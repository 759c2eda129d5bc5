import AlarmCore
import AlarmRuntime
import HAL
import Logging
import SimBackends
import Synchronization
import Testing

/// A microphone that hears nothing at all: every frame is zeros (a broken capsule, a cut wire).
final class DeadMicrophone: AudioCapture {
    let clock: any Clock
    let sink = Mutex<(@Sendable (Result<AudioFrame, HALError>) -> Void)?>(nil)
    let timer = Mutex<(any Cancellable)?>(nil)
    let running = Mutex(false)
    init(clock: any Clock) { self.clock = clock }
    func start(_ frames: @escaping @Sendable (Result<AudioFrame, HALError>) -> Void) throws(HALError) {
        sink.withLock { $0 = frames }
        running.withLock { $0 = true }
        tick()
    }
    func tick() {
        let next = clock.schedule(after: .milliseconds(20)) { [self] in
            sink.withLock { $0 }?(.success(AudioFrame(samples: [Int16](repeating: 0, count: 160), sampleRate: 8000, capturedAt: clock.now())))
            if running.withLock({ $0 }) { tick() }
        }
        timer.withLock { $0?.cancel(); $0 = next }
    }
    func stop() {
        running.withLock { $0 = false }
        timer.withLock { $0?.cancel(); $0 = nil }
    }
}

@Suite struct MicrophoneSelfTestTests {
    func device(audio: (ManualClock) -> any AudioCapture) throws -> (ManualClock, DeviceRuntime, SimReportLink) {
        let clock = ManualClock()
        let modem = SimModem(clock: clock)
        let link = SimReportLink(clock: clock)
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3292000101"]
        let backends = Backends(button: SimButton(clock: clock), position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                network: modem, calls: modem, sms: modem, reportLink: link, audio: audio(clock), store: InMemoryRecordStore())
        let runtime = DeviceRuntime(machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BE-MIC-1", boardName: "mic"),
                                    clock: clock, backends: backends, silence: .noSpeaker,
                                    logger: Logger(label: "mic", factory: { _ in SwiftLogNoOpLogHandler() }),
                                    microphoneTestInterval: .seconds(3600))
        try runtime.start()
        return (clock, runtime, link)
    }

    @Test func aLiveMicrophonePassesAtStartAndIsSwitchedOffAgain() throws {
        let (clock, runtime, link) = try device { SimAudio(clock: $0) }
        for _ in 0..<20 { clock.advance(by: .milliseconds(100)) }
        #expect(runtime.status.microphone?.hasPrefix("plausible") == true, "\(runtime.status.microphone ?? "nil")")
        let frames = runtime.status.audioFrames
        clock.advance(by: .seconds(5))
        #expect(runtime.status.audioFrames == frames, "the microphone is off between tests on a board without evidence")
        #expect(!link.received.contains { $0.kind == .microphoneTrouble })
    }

    @Test func aDeadMicrophoneIsDeviceTroubleOnceAndShownInStatus() throws {
        let (clock, runtime, link) = try device { DeadMicrophone(clock: $0) }
        for _ in 0..<20 { clock.advance(by: .milliseconds(100)) }
        #expect(runtime.status.microphone == "dead (all zeros)")
        #expect(link.received.filter { $0.kind == .microphoneTrouble }.count == 1)
        clock.advance(by: .seconds(3600))
        clock.advance(by: .seconds(2))
        #expect(Set(link.received.filter { $0.kind == .microphoneTrouble }.map(\.sequence)).count == 1, "reported once, not every test")
    }
}
