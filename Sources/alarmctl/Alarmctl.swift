import AlarmRuntime
import ArgumentParser
import Glibc

/// Talks to a running alarmd over its control socket.
@main
struct Alarmctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarmctl",
        abstract: "Inspect and drive a running alarmd.",
        subcommands: [Status.self, Watch.self, Sim.self, EvidenceCommand.self])
}

struct Connection: ParsableArguments {
    @Option(name: .long, help: "Board file whose controlSocket to use.")
    var board: String = "boards/sim.json5"

    @Option(name: .long, help: "Control socket path (overrides --board).")
    var socket: String?

    func client() throws -> ControlClient {
        if let socket { return try ControlClient(socketPath: socket) }
        let parsed: Board
        do {
            parsed = try Board.load(path: board)
        } catch {
            throw ValidationError("\(error)")
        }
        return try ControlClient(socketPath: parsed.controlSocketPath)
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the device's state.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print JSON for scripts.") var json = false

    func run() throws {
        let client = try connection.client()
        let response = try client.request(ControlRequest(command: "status"))
        guard response.ok, let status = response.status else { throw Refused(message: response.error ?? "no status") }
        if json {
            print(String(decoding: ControlJSON.line(status).dropLast(), as: UTF8.self))
        } else {
            print(StatusText.render(status))
        }
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stream the device's timeline as it happens.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print JSON lines.") var json = false

    func run() throws {
        let client = try connection.client()
        try client.startWatching()
        while let record = try client.nextRecord(timeoutMilliseconds: -1) {
            if json {
                print(String(decoding: ControlJSON.line(record).dropLast(), as: UTF8.self))
            } else {
                print("\(record.at) ms  \(record.category.rawValue.padding(12))  \(record.text)")
            }
            fflush(nil)
        }
    }
}

struct Sim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive the simulated backends of a running simulator or HIL-target daemon.",
        discussion: SimulationCommandsUsage.text)
    @OptionGroup var connection: Connection
    @Argument(parsing: .captureForPassthrough, help: "ACTION [ARGUMENTS…] (see below)") var action: [String] = []

    func run() throws {
        var arguments = action
        // `--hold 2.5s` is accepted as a spelling of `press 2.5s`.
        if let index = arguments.firstIndex(of: "--hold"), index + 1 < arguments.count {
            arguments.remove(at: index)
        }
        let client = try connection.client()
        let response = try client.request(ControlRequest(command: "sim", arguments: arguments))
        guard response.ok else { throw Refused(message: response.error ?? "refused") }
        print(response.message ?? "ok")
    }
}


extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// The daemon said no; its words are the whole message (no usage text after it).
struct Refused: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
