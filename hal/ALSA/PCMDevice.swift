import CALSA
import Glibc

/// What the capture loop needs from an open PCM. The real one wraps `snd_pcm_t`; tests stand in for it to
/// produce what a file-backed PCM never does (an overrun, a device that vanishes mid-capture).
/// Used only by the capture thread that opened it.
protocol PCMDevice: AnyObject {
    /// Blocks until `frames` interleaved frames are in `buffer`; the number of frames read, or a negative errno.
    func read(into buffer: UnsafeMutablePointer<Int16>, frames: Int) -> Int
    /// `snd_pcm_recover`: 0 when capture can go on, else the (negative) error that ended it.
    func recover(_ error: Int32) -> Int32
    func close()
}

struct PCMSettings: Sendable {
    var pcm: String
    var configText: String?
    var sampleRate: Int
    var channels: Int
    var periodFrames: Int
    /// A file-backed PCM delivers as fast as it is read: pace the reads to the nominal rate (simulator boards).
    var pacedToRealTime = false
    /// Open for playback (the listen-in bridge's side toward the modem) instead of capture.
    var playback = false
}

struct PCMOpenError: Error, CustomStringConvertible {
    /// Negative errno, as ALSA returns it.
    var code: Int32
    var step: String

    var description: String { "\(step): \(String(cString: snd_strerror(code)))" }
}

typealias PCMOpener = @Sendable (PCMSettings) throws(PCMOpenError) -> any PCMDevice

/// A capture `snd_pcm_t`, opened S16_LE interleaved at the requested rate and channel count.
final class ALSAPCM: PCMDevice {
    private var pcm: OpaquePointer?
    /// The private configuration the PCM was opened from: kept until close, because plugins may hold on to
    /// strings that live in it.
    private var config: OpaquePointer?

    static let opener: PCMOpener = { settings throws(PCMOpenError) in try ALSAPCM(settings) }

    init(_ settings: PCMSettings) throws(PCMOpenError) {
        if let text = settings.configText { config = try Self.load(text) }
        var handle: OpaquePointer?
        let status = if let config {
            snd_pcm_open_lconf(&handle, settings.pcm, settings.playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE, 0, config)
        } else {
            snd_pcm_open(&handle, settings.pcm, settings.playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE, 0)
        }
        guard status >= 0, let handle else {
            close()
            throw PCMOpenError(code: status < 0 ? status : -ENODEV, step: "open \(settings.pcm)")
        }
        pcm = handle
        do throws(PCMOpenError) {
            try Self.configure(handle, settings)
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func read(into buffer: UnsafeMutablePointer<Int16>, frames: Int) -> Int {
        guard let pcm else { return -Int(EBADFD) }
        return snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames))
    }

    /// Frames written (blocking), or a negative errno.
    func write(_ buffer: UnsafePointer<Int16>, frames: Int) -> Int {
        guard let pcm else { return -Int(EBADFD) }
        return snd_pcm_writei(pcm, buffer, snd_pcm_uframes_t(frames))
    }

    /// Plays out what is queued (the end of a call).
    func drain() {
        if let pcm { snd_pcm_drain(pcm) }
    }

    func recover(_ error: Int32) -> Int32 {
        guard let pcm else { return -EBADFD }
        // Silent: the capture loop logs overruns itself, with its count, instead of ALSA's bare "overrun!!!".
        return snd_pcm_recover(pcm, error, 1)
    }

    func close() {
        if let pcm { snd_pcm_close(pcm) }
        pcm = nil
        if let config { snd_config_delete(config) }
        config = nil
    }

    /// A configuration of our own, from text: no file under /etc and no environment variable involved, so
    /// each capture (and each test) can describe its device without touching the system's ALSA setup.
    /// It replaces the global configuration entirely: names defined there (such as "null") do not exist in it.
    private static func load(_ text: String) throws(PCMOpenError) -> OpaquePointer {
        var top: OpaquePointer?
        var status = snd_config_top(&top)
        guard status >= 0, let top else { throw PCMOpenError(code: status < 0 ? status : -ENOMEM, step: "snd_config_top") }
        var input: OpaquePointer?
        status = snd_input_buffer_open(&input, text, text.utf8.count)
        guard status >= 0, let input else {
            snd_config_delete(top)
            throw PCMOpenError(code: status < 0 ? status : -ENOMEM, step: "snd_input_buffer_open")
        }
        status = snd_config_load(top, input)
        snd_input_close(input)
        guard status >= 0 else {
            snd_config_delete(top)
            throw PCMOpenError(code: status, step: "snd_config_load")
        }
        return top
    }

    private static func configure(_ pcm: OpaquePointer, _ settings: PCMSettings) throws(PCMOpenError) {
        var allocated: OpaquePointer?
        let status = snd_pcm_hw_params_malloc(&allocated)
        guard status >= 0, let params = allocated else {
            throw PCMOpenError(code: status < 0 ? status : -ENOMEM, step: "snd_pcm_hw_params_malloc")
        }
        defer { snd_pcm_hw_params_free(params) }

        func check(_ status: Int32, _ step: String) throws(PCMOpenError) {
            if status < 0 { throw PCMOpenError(code: status, step: step) }
        }
        try check(snd_pcm_hw_params_any(pcm, params), "snd_pcm_hw_params_any")
        try check(snd_pcm_hw_params_set_access(pcm, params, SND_PCM_ACCESS_RW_INTERLEAVED), "interleaved access")
        try check(snd_pcm_hw_params_set_format(pcm, params, SND_PCM_FORMAT_S16_LE), "format S16_LE")
        try check(snd_pcm_hw_params_set_channels(pcm, params, UInt32(settings.channels)), "\(settings.channels) channels")
        // Exactly this rate: the codecs downstream assume it, and a plug PCM resamples when the hardware cannot.
        try check(snd_pcm_hw_params_set_rate(pcm, params, UInt32(settings.sampleRate), 0), "rate \(settings.sampleRate) Hz")
        var period = snd_pcm_uframes_t(settings.periodFrames)
        var direction: Int32 = 0
        try check(snd_pcm_hw_params_set_period_size_near(pcm, params, &period, &direction), "period size")
        // Half a second of slack (at least four periods): a busy device must not overrun for want of a
        // few kilobytes; the latency does not matter for a recording.
        // Playback toward the modem keeps latency low instead: three periods.
        var buffer = snd_pcm_uframes_t(settings.playback ? settings.periodFrames * 3 : max(settings.periodFrames * 4, settings.sampleRate / 2))
        try check(snd_pcm_hw_params_set_buffer_size_near(pcm, params, &buffer), "buffer size")
        try check(snd_pcm_hw_params(pcm, params), "snd_pcm_hw_params")
        try check(snd_pcm_hw_params_get_buffer_size(params, &buffer), "buffer size")
        // A read larger than the buffer "succeeds" with zeros instead of audio.
        guard Int(buffer) >= settings.periodFrames else {
            throw PCMOpenError(code: -EINVAL, step: "buffer of \(buffer) frames is smaller than a \(settings.periodFrames)-frame read")
        }
    }
}
