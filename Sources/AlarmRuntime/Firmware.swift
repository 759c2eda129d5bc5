/// This firmware's identity, carried by every periodic test report and shown by `alarmctl status`, so the centre
/// sees a changed device at the next test. Raise the version with each release (with `UTCClock.buildDate`).
public enum Firmware {
    public static let version = "0.17.0"
}
