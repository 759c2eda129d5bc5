import AlarmCore
import AlarmRuntime
import AlarmSimulation
import Glibc
import Logging
import PosixIO
import SimBackends
import Testing

/// During the centre's call the microphone goes into the modem's USB-audio playback PCM (file-backed here).
@Suite struct VoiceBridgeTests {
    @Test func theMicrophoneReachesTheModemOnlyWhileTheCallIsUp() throws {
        let dir = "/tmp/alarm-voice-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let storage = try StorageDirectory(path: dir)
        try storage.replaceAtomically("voice.conf", with: Array("""
            pcm.modemvoice { type file  slave.pcm { type null }  file "\(dir)/voice.raw"  format "raw" }
            """.utf8))
        let text = """
            { name: "voice", kind: "simulator", device: { id: "BE-V-1" }, silence: "usb-audio-no-playback",
              roles: { button: "sim:", position: "sim:", modem: "sim:", reportLink: "sim:", audio: "sim:",
                       voiceOut: "alsa:modemvoice?config=\(dir)/voice.conf" },
              storage: "\(dir)/state", controlSocket: "\(dir)/sock",
              alarm: { centreNumbers: ["+3292000101"] } }
            """
        let board = try Board.parse(Array(text.utf8), file: "boards/voice.json5")
        let clock = ManualClock()
        let device = try SimulationAssembly.assemble(board, clock: clock, logger: Logger(label: "v", factory: { _ in SwiftLogNoOpLogHandler() }),
                                                 store: InMemoryRecordStore())
        try device.start()
        defer { device.stop() }
        for _ in 0..<30 { clock.advance(by: .milliseconds(100)) }
        #expect((try StorageDirectory.readFile(dir + "/voice.raw")) == nil, "nothing goes to the modem before a call")
        device.simulation.button?.press(holding: .milliseconds(2500))
        for _ in 0..<100 { clock.advance(by: .milliseconds(100)) }  // hold, dial, answer, some call
        #expect(device.runtime.status.call?.connected == true)
        device.simulation.modem?.centreHangsUp()
        clock.advance(by: .milliseconds(100))
        let bytes = try #require(try StorageDirectory.readFile(dir + "/voice.raw"))
        // The manual clock runs the simulated microphone far faster than real time, so the bridge (bounded at 60 ms,
        // oldest dropped) keeps only what its writer thread caught: how much depends on scheduling. What must hold:
        // audio reached the modem during the call, whole periods of it.
        #expect(bytes.count >= 2 * 160 && bytes.count % 2 == 0, "microphone audio reached the modem during the call: \(bytes.count / 2) samples")
        let afterCall = bytes.count
        for _ in 0..<30 { clock.advance(by: .milliseconds(100)) }
        #expect((try StorageDirectory.readFile(dir + "/voice.raw"))?.count == afterCall, "and nothing after it")
    }

    /// The capture period follows the board: 100 ms without a bridge, 20 ms with one; a bridge board refuses a
    /// period its 60 ms queue could not carry, naming the file and the key.
    @Test func theCapturePeriodFitsTheBridge() throws {
        func board(_ roles: String) throws -> Board {
            try Board.parse(Array("""
                { name: "p", kind: "simulator", device: { id: "BE-P-1" }, silence: "usb-audio-no-playback",
                  roles: { button: "sim:", position: "sim:", modem: "sim:", reportLink: "sim:", \(roles) },
                  storage: "/tmp/alarm-period-\(getpid())", controlSocket: "/tmp/alarm-period-\(getpid()).sock",
                  alarm: { centreNumbers: ["+3292000101"] } }
                """.utf8), file: "boards/p.json5")
        }
        #expect(try board(#"audio: "sim:""#).defaultCapturePeriodFrames(rate: 8000) == 800)
        #expect(try board(#"audio: "sim:", voiceOut: "alsa:v""#).defaultCapturePeriodFrames(rate: 16000) == 320)
        // Refused when the board is read, so `alarmd --check` names it too.
        do {
            _ = try board(#"audio: "alsa:mic?rate=8000&period=800", voiceOut: "alsa:v""#)
            Issue.record("a 100 ms period was accepted beside a voiceOut bridge")
        } catch let error as BoardError {
            #expect(error.file == "boards/p.json5")
            #expect(error.key == "roles.audio")
            #expect(error.problem.contains("30 ms"))
        }
        #expect(throws: Never.self) { try board(#"audio: "alsa:mic?rate=16000&period=320", voiceOut: "alsa:v""#) }
    }
}
