import AlarmDaemon
import Glibc
import PosixIO
import Testing

/// The device build (`alarmd`) links no simulator, emulator, simulator control or Modbus test port, and refuses
/// boards that are not device boards; the developer build (`alarmd-sim`) has them all, which is also what proves
/// that the symbol checks below can fail.
@Suite(.serialized) struct DeviceBuildTests {
    static let bin = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast()
        .joined(separator: "/"))
    static let repository: String = {
        var path = bin
        while !path.isEmpty, access(path + "/Package.swift", R_OK) != 0 {
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        }
        return path
    }()

    /// Symbols defined by a Swift module start with `$s<length><name>`; libmodbus's functions with `modbus_`.
    static let simulationModules = ["SimBackends", "ModemEmulator", "AlarmSimulation", "Modbus", "SimCentre", "HILRig", "SimTools",
                                    // Not a simulator, but half a megabyte the daemon's four options do not need.
                                    "ArgumentParser"]
    static func prefixes(_ modules: [String]) -> [String] { modules.map { "$s\($0.utf8.count)\($0)" } }

    /// Runs a tool to completion; its standard output and error, and its exit status.
    static func run(_ tool: String, _ arguments: [String]) throws -> (output: String, status: Int32?) {
        let path = "/tmp/device-build-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(path) }
        let sink = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        let child = try ChildProcess.spawn(tool, arguments, stdout: sink, stderr: sink)
        let status = try child.wait(timeoutMilliseconds: 60_000)
        if status == nil { _ = child.stop(graceMilliseconds: 100) }
        try? sink.close()
        return (readWhole(path), status)
    }

    /// nm's output of a debug binary runs to megabytes: read it whole.
    static func readWhole(_ path: String) -> String {
        guard let file = fopen(path, "rb") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func definedSymbols(_ binary: String) throws -> [Substring] {
        let (text, status) = try run("nm", ["--defined-only", "--format=just-symbols", binary])
        try #require(status == 0, "nm \(binary) failed: \(text.prefix(300))")
        return text.split(separator: "\n")
    }

    static func neededLibraries(_ binary: String) throws -> [String] {
        let (text, status) = try run("readelf", ["-d", binary])
        try #require(status == 0, "readelf -d \(binary) failed")
        return text.split(separator: "\n").filter { $0.contains("(NEEDED)") }.map(String.init)
    }

    func built(_ name: String) throws -> String {
        let path = Self.bin + "/" + name
        try #require(access(path, X_OK) == 0, "\(name) is built beside the tests (swift build --build-tests)")
        return path
    }

    @Test func deviceBuildLinksNoSimulatorEmulatorOrTestPort() throws {
        let device = try Self.definedSymbols(try built("alarmd"))
        #expect(device.contains { $0.hasPrefix("$s12AlarmRuntime") }, "the check sees the device's own modules")
        for prefix in Self.prefixes(Self.simulationModules) {
            let found = device.filter { $0.hasPrefix(prefix) }
            #expect(found.isEmpty, "alarmd defines \(found.count) symbols of \(prefix), e.g. \(found.prefix(3))")
        }
        #expect(!device.contains { $0.hasPrefix("modbus_") }, "libmodbus linked statically into alarmd")
        #expect(!(try Self.neededLibraries(try built("alarmd"))).contains { $0.contains("libmodbus") }, "alarmd needs libmodbus")
    }

    @Test func theDaemonsOptions() {
        var expected = DaemonOptions(board: "b.json5")
        #expect(DaemonOptions.parse(["--board", "b.json5"]) == .run(expected))
        expected.logLevel = "debug"
        expected.check = true
        expected.operatorKey = "/k.pub"
        #expect(DaemonOptions.parse(["--check", "--board=b.json5", "--log-level", "debug", "--operator-key", "/k.pub"]) == .run(expected))
        #expect(DaemonOptions.parse(["--help"]) == .help)
        #expect(DaemonOptions.parse([]) == .invalid("missing --board FILE"))
        #expect(DaemonOptions.parse(["--board"]) == .invalid("--board needs a file"))
        #expect(DaemonOptions.parse(["--board", "b", "--log-level", "loud"]).isInvalid(mentioning: "--log-level"))
        #expect(DaemonOptions.parse(["--board", "b", "--verbose"]) == .invalid("unknown argument \"--verbose\""))
    }

    @Test func aUsageErrorExits64WithTheUsage() throws {
        let (output, status) = try Self.run(try built("alarmd"), ["--bored", "x"])
        #expect(status == 64)
        #expect(output.contains("alarmd: unknown argument \"--bored\"") && output.contains("USAGE: alarmd --board FILE"))
    }

    /// The same checks find the simulators where they belong: they are not vacuous.
    @Test func developerBuildHasThem() throws {
        let developer = try Self.definedSymbols(try built("alarmd-sim"))
        for prefix in Self.prefixes(["SimBackends", "ModemEmulator", "AlarmSimulation", "Modbus"]) {
            #expect(developer.contains { $0.hasPrefix(prefix) }, "alarmd-sim defines no \(prefix) symbol")
        }
        #expect(try Self.neededLibraries(try built("alarmd-sim")).contains { $0.contains("libmodbus") })
    }

    @Test(arguments: ["boards/sim.json5", "boards/sim-hil.json5"])
    func deviceBuildRefusesNonDeviceBoards(board: String) throws {
        let (output, status) = try Self.run(try built("alarmd"), ["--board", Self.repository + "/" + board])
        #expect(status == 2, "alarmd ran a simulator board: \(output.suffix(400))")
        #expect(output.contains("this alarmd is the device build and runs device boards only"), "\(output.suffix(400))")
        #expect(output.split(separator: "\n").count == 1, "one clear line, got: \(output)")
    }

    /// Even a properly provisioned device board that names the modem emulator finds nothing to build it from: the
    /// device build has no emulator (the board reader already refuses the `sim:` roles of a device board).
    @Test func aDeviceBoardNamingTheEmulatorHasNothingToRunOn() throws {
        let directory = "/tmp/device-build-board-\(getpid())"
        let store = try StorageDirectory(path: directory)
        defer { _ = try? Self.run("rm", ["-rf", directory]) }
        let tool = try built("alarm-provision")
        // The device's key files (contents only need to match their fingerprints here; the storage key is real).
        try store.replaceAtomically("storage.key", with: (0..<32).map { _ in UInt8.random(in: 0...255) })
        try store.replaceAtomically("dc09.key", with: Array("00112233445566778899aabbccddeeff\n".utf8))
        try store.replaceAtomically("sms.key", with: Array(String(repeating: "ab", count: 32).utf8))
        var fingerprints: [String: String] = [:]
        for name in ["storage.key", "dc09.key", "sms.key"] {
            let (text, status) = try Self.run(tool, ["fingerprint", "\(directory)/\(name)"])
            try #require(status == 0, "\(text)")
            fingerprints[name] = String(text.split(separator: "\n").last { $0.count >= 64 }?.suffix(64) ?? "")
        }
        let payload = """
            { kind: "device", device: { id: "DEV-1" }, silence: "no-speaker", roles: { reportLink: "dc09+tcp://127.0.0.1:7510" },
              alarm: { centreNumbers: ["+3225550100"] },
              reporting: { account: "1234", prefix: "1", keyFile: "\(directory)/dc09.key", smsKeyFile: "\(directory)/sms.key" },
              fingerprints: { storageKey: "\(fingerprints["storage.key"]!)",
                              reporting: { keyFile: "\(fingerprints["dc09.key"]!)", smsKeyFile: "\(fingerprints["sms.key"]!)" } } }
            """
        try store.replaceAtomically("payload.json5", with: Array(payload.utf8))
        for arguments in [["keygen", "--private", "\(directory)/operator.key", "--public", "\(directory)/operator.pub"],
                          ["sign", "--key", "\(directory)/operator.key", "--counter", "1", "--device-id", "DEV-1",
                           "\(directory)/payload.json5", "--output", "\(directory)/provisioning.bundle"]] {
            let (text, status) = try Self.run(tool, arguments)
            try #require(status == 0, "alarm-provision \(arguments[0]): \(text)")
        }
        let board = """
            { name: "emulated", kind: "device", provisioning: "\(directory)/provisioning.bundle", silence: "no-speaker",
              roles: { button: "evdev:/dev/input/event0", position: "gpsd://127.0.0.1:2947", modem: "pty:sim" },
              storage: "\(directory)/state", storageKey: "\(directory)/storage.key", controlSocket: "\(directory)/alarmd.sock" }
            """
        try store.replaceAtomically("board.json5", with: Array(board.utf8))
        let (output, status) = try Self.run(try built("alarmd"), ["--board", directory + "/board.json5",
                                                                  "--operator-key", directory + "/operator.pub"])
        #expect(status == 2, "\(output.suffix(400))")
        #expect(output.contains("roles.modem: no backend for \"pty:sim\""), "\(output.suffix(400))")

        // --check names the bundle the device runs on: counter, digest and signer, as the operator's records show them.
        let (verified, _) = try Self.run(tool, ["verify", "--operator-key", "\(directory)/operator.pub", "\(directory)/provisioning.bundle"])
        let digest = try #require(verified.split(whereSeparator: { !$0.isHexDigit }).first { $0.count == 16 || $0.count == 64 },
                                  "no digest in: \(verified)")
        let (check, _) = try Self.run(try built("alarmd"), ["--board", directory + "/board.json5", "--operator-key",
                                                           directory + "/operator.pub", "--check"])
        let line = check.split(separator: "\n").first { $0.contains("provisioning") } ?? ""
        #expect(line.contains("bundle #1") && line.contains(String(digest.prefix(16))), "\(check.prefix(600))")
    }
}

extension DaemonOptions.Parsed {
    func isInvalid(mentioning text: String) -> Bool {
        if case .invalid(let problem) = self { return problem.contains(text) }
        return false
    }
}
