import AlarmDaemon
import ArgumentParser

/// The device build of the alarm daemon: real backends only. No simulator, emulator, simulator control or test
/// port is linked into this binary (docs/architecture.md), and it runs device boards only.
@main
struct Alarmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarmd",
        abstract: "Stalking-alarm daemon: button → position → voice call and report to the receiving centre.")

    @OptionGroup var options: DaemonOptions

    func run() throws { try Daemon.run(options, build: .device) }
}
