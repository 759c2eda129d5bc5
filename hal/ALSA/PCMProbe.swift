import Glibc
import HAL

/// Opens a PCM exactly as capture or playback would (same format, rate, channels and period) and closes it again,
/// without moving a sample: `alarmd --check` proves the device exists, is not held by another process and
/// accepts the settings, before the daemon depends on it. A device held by another process throws `.notReady`.
public enum PCMProbe {
    public static func open(pcm: String, configText: String? = nil, sampleRate: Int, channels: Int = 1,
                            periodFrames: Int, playback: Bool) throws(HALError) {
        _ = alsaMessagesRouted  // ALSA's own messages never reach stderr (here: dropped; the error says enough)
        let settings = PCMSettings(pcm: pcm, configText: configText, sampleRate: sampleRate, channels: channels,
                                   periodFrames: periodFrames, playback: playback)
        do {
            let device = try ALSAPCM(settings)
            device.close()
        } catch {
            // Busy is not absent: a running daemon (or another program) holds the device.
            throw HALError(error.code == -EBUSY ? .notReady : .unavailable, "\(playback ? "playback" : "capture") PCM \(pcm): \(error)")
        }
    }
}
