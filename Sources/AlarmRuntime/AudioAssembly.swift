import ALSA
import HAL
import Logging
import PosixIO

extension DeviceAssembly {
    /// `alsa:PCM?rate=8000&channels=1&period=800&config=FILE`: the microphone through ALSA. `config` names a file of
    /// ALSA configuration text used instead of the system's (a file-backed PCM for the simulator, no /etc changes).
    static func assembleALSA(_ board: Board, _ uri: PortURI, clock: any Clock, logger: Logger) throws(BoardError) -> ALSACapture {
        func problem(_ text: String) -> BoardError { BoardError(file: board.file, key: "roles.audio", problem: text) }
        guard !uri.target.isEmpty else { throw problem("expected alsa:PCM, e.g. alsa:hw:1,0 or alsa:default") }
        let rate = Int(uri.query["rate"] ?? "8000") ?? -1
        guard rate == 8000 || rate == 16000 else { throw problem("rate: expected 8000 or 16000, got \(uri.query["rate"] ?? "")") }
        let channels = Int(uri.query["channels"] ?? "1") ?? -1
        guard (1...8).contains(channels) else { throw problem("channels: expected 1-8") }
        let period = Int(uri.query["period"] ?? String(board.defaultCapturePeriodFrames(rate: rate))) ?? -1
        guard (32...8192).contains(period) else { throw problem("period: expected 32-8192 frames") }
        var configText: String?
        if let file = uri.query["config"] {
            do {
                guard let bytes = try StorageDirectory.readFile(file) else { throw problem("config \(file): no such file") }
                configText = String(decoding: bytes, as: UTF8.self)
            } catch let error as BoardError {
                throw error
            } catch {
                throw problem("config \(file): \(error)")
            }
        }
        let paced = uri.query["pace"] == "realtime"
        if paced, board.kind == .device { throw problem("pace=realtime is for file-backed PCMs on simulator and HIL boards") }
        return ALSACapture(pcm: uri.target, configText: configText, sampleRate: rate, channels: channels, periodFrames: period,
                           pacedToRealTime: paced, clock: clock, logger: logger)
    }
}
