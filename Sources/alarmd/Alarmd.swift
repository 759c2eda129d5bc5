import AlarmDaemon

/// The device build of the alarm daemon: real backends only. No simulator, emulator, simulator control or test
/// port is linked into this binary (docs/architecture.md), and it runs device boards only.
@main
enum Alarmd {
    static func main() { Daemon.main(command: "alarmd", build: .device) }
}
