/// Which parts of a board file the signed payload owns, for the daemon that overlays a verified payload onto the
/// board document before reading it (docs/provisioning.md, "The daemon's rules").
public enum ProvisionedKeys {
    /// Sections the payload replaces whole: the board file's own values in them are dropped first, so a key the
    /// payload leaves out takes the product default, never a value written on the card.
    public static let ownedSections = ["device", "alarm", "reporting"]
    /// Single keys the payload replaces (the board's value is dropped even when the payload has none). `silence` and
    /// the amplifier's enable line decide whether the centre's voice is audible on the device: an aggressor who
    /// changes them could hear that an alarm is running.
    public static let ownedKeys = ["kind", "roles.reportLink", "silence", "roles.amplifierEnable"]
    /// The payload section that holds key-file fingerprints; removed before the board is read.
    public static let fingerprintsSection = "fingerprints"
    /// Board keys naming key files whose contents a payload pins by SHA-256, as `fingerprints` mirrors them
    /// (`fingerprints: { storageKey: …, reporting: { keyFile: …, smsKeyFile: … }, evidence: { centreKeyFile: … } }`).
    public static let fingerprintedKeyFiles = ["storageKey", "reporting.keyFile", "reporting.smsKeyFile", "evidence.centreKeyFile"]
}
