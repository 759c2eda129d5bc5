// swift-tools-version:6.0
import PackageDescription

// Layers (each imports only the ones below it); see docs/architecture.md.
//   executables → AlarmRuntime → HAL backends (hal/) → HAL protocols → AlarmCodecs → AlarmCore
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "StalkingAlarm",
    platforms: [.macOS(.v15)],
    products: [
        // The device build: no simulator, emulator, simulator control or test port is linked (docs/architecture.md).
        .executable(name: "alarmd", targets: ["alarmd"]),
        // The developer and HIL build: the same daemon plus the simulated backends, the emulator and the test port.
        .executable(name: "alarmd-sim", targets: ["alarmd-sim"]),
        .executable(name: "alarmctl", targets: ["alarmctl"]),
        .executable(name: "alarm-centre", targets: ["alarm-centre"]),
        .executable(name: "alarm-sim", targets: ["alarm-sim"]),
        .executable(name: "alarm-bench", targets: ["alarm-bench"]),
        .executable(name: "modem-emulator", targets: ["modem-emulator"]),
        .executable(name: "nmea-route", targets: ["nmea-route"]),
        .executable(name: "alarm-soak", targets: ["alarm-soak"]),
        .executable(name: "alarm-rig", targets: ["alarm-rig"]),
        .executable(name: "alarm-provision", targets: ["alarm-provision"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // Pure: no I/O, no clock, no Foundation.
        .target(name: "AlarmCore", swiftSettings: strict),
        .target(name: "AlarmCodecs", dependencies: ["AlarmCore"], swiftSettings: strict),

        // Hardware boundary.
        .target(name: "PosixIO", path: "hal/PosixIO", swiftSettings: strict),
        .target(name: "HAL", dependencies: ["AlarmCore"], path: "hal/HAL", swiftSettings: strict),
        .target(name: "SimBackends", dependencies: ["HAL", "AlarmCore"], path: "hal/SimBackends", swiftSettings: strict),
        .target(name: "LinuxBackends", dependencies: ["HAL", "AlarmCore", "AlarmCodecs", "PosixIO", "DC09",
                                                     .product(name: "Logging", package: "swift-log")],
                path: "hal/LinuxBackends", swiftSettings: strict),

        // The AT-command modem driver (any serial line) and its wire-level emulator (a simulator: never imported by the driver).
        .target(name: "ATModem", dependencies: ["HAL", "AlarmCore", "AlarmCodecs", "PosixIO",
                                               .product(name: "Logging", package: "swift-log")],
                path: "hal/ATModem", swiftSettings: strict),
        .target(name: "ModemEmulator", dependencies: ["HAL", "AlarmCore", "AlarmCodecs", "PosixIO"],
                path: "hal/ModemEmulator", swiftSettings: strict),
        // Records at rest sealed with the device's storage key (AES-GCM from swift-crypto).
        .target(name: "SecureStore", dependencies: ["HAL", "PosixIO", .product(name: "Crypto", package: "swift-crypto")],
                path: "hal/SecureStore", swiftSettings: strict),
        // gpsd client through libgps (Debian: libgps-dev; gpsd itself for tests and simulation).
        .systemLibrary(name: "CLibGPS", path: "hal/CLibGPS", pkgConfig: "libgps", providers: [.apt(["libgps-dev"])]),
        .target(name: "GPSD", dependencies: ["CLibGPS", "HAL", "AlarmCore", .product(name: "Logging", package: "swift-log")],
                path: "hal/GPSD", swiftSettings: strict),
        // The microphone through ALSA (Debian: libasound2-dev); the C shim catches ALSA's variadic error messages.
        .systemLibrary(name: "CALSA", path: "hal/CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .target(name: "CALSAShim", dependencies: ["CALSA"], path: "hal/CALSAShim"),
        .target(name: "ALSA", dependencies: ["CALSA", "CALSAShim", "HAL", "AlarmCore", .product(name: "Logging", package: "swift-log")],
                path: "hal/ALSA", swiftSettings: strict),

        // Board I/O through the kernel: input events, GPIO character devices (v2 ioctls), LED and power-supply classes.
        .systemLibrary(name: "CBoardIO", path: "hal/CBoardIO"),
        .target(name: "BoardIO", dependencies: ["CBoardIO", "HAL", "AlarmCore", "PosixIO", .product(name: "Logging", package: "swift-log")],
                path: "hal/BoardIO", swiftSettings: strict),
        // Modbus through libmodbus (Debian: libmodbus-dev): the HIL test port and the rig runner's client.
        .systemLibrary(name: "CModbus", path: "hal/CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .target(name: "Modbus", dependencies: ["CModbus", "PosixIO", .product(name: "Logging", package: "swift-log")],
                path: "hal/Modbus", swiftSettings: strict),

        // The device's runtime: real backends only. Nothing here may import a simulator, the emulator or Modbus.
        .target(name: "AlarmRuntime",
                dependencies: ["AlarmCore", "AlarmCodecs", "HAL", "LinuxBackends", "PosixIO",
                               "ATModem", "GPSD", "SecureStore", "DC09", "CentreSMS", "Evidence", "ALSA", "AudioChecks",
                               "BoardIO", "Provisioning", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // What developer and HIL builds add to the assembly: simulated backends (`sim:`), the byte-level emulator
        // (`pty:sim`), `alarmctl sim …` and the Modbus test port.
        .target(name: "AlarmSimulation",
                dependencies: ["AlarmRuntime", "AlarmCore", "HAL", "SimBackends", "ModemEmulator", "ATModem", "Modbus", "PosixIO",
                               "LinuxBackends", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // The daemon's main, shared by both builds; each executable hands it the assembly it links.
        .target(name: "AlarmDaemon",
                dependencies: ["AlarmRuntime", "HAL", "LinuxBackends", "PosixIO", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Every target names each module it imports: SwiftPM rebuilds a target when a *declared* dependency
        // changes; a module reached only transitively once left a stale struct layout behind (a crash).
        // SIA DC-09 message security: AES-CBC (swift-crypto's CryptoExtras, FoundationEssentials only).
        .target(name: "DC09", dependencies: ["AlarmCodecs", "AlarmCore", .product(name: "Crypto", package: "swift-crypto"),
                                             .product(name: "CryptoExtras", package: "swift-crypto")], swiftSettings: strict),
        // The SMS fallback's authenticated, encrypted format and the centre's authenticated SMS commands.
        .target(name: "CentreSMS", dependencies: ["AlarmCodecs", "AlarmCore", "DC09", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strict),
        // The kill soak: the real daemon, SIGKILLed at random moments, checked at our receiver.
        .target(name: "Soak", dependencies: ["AlarmRuntime", "AlarmCore", "AlarmCodecs", "CentreSMS", "SimCentre", "PosixIO",
                                             "ATModem", "ModemEmulator", "SimBackends", "HAL", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Evidence recordings: chunks sealed to the centre (HPKE) and signed by the device (Ed25519).
        .target(name: "Evidence", dependencies: ["AlarmCore", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strict),
        // The microphone self-test's classification (pure).
        .target(name: "AudioChecks", swiftSettings: strict),
        .target(name: "SimCentre", dependencies: ["AlarmCodecs", "AlarmCore", "PosixIO", "DC09"], swiftSettings: strict),
        // Helpers of the simulation tools (not firmware): a real gpsd replaying an NMEA log.
        .target(name: "SimTools", dependencies: ["PosixIO"], swiftSettings: strict),
        // The benchmark table and JSON: alarm-bench only, never linked into the firmware.
        .target(name: "BenchHarness", dependencies: ["PosixIO", "AlarmRuntime"], swiftSettings: strict),

        .executableTarget(name: "alarmd", dependencies: ["AlarmDaemon"], swiftSettings: strict),
        .executableTarget(name: "alarmd-sim", dependencies: ["AlarmDaemon", "AlarmRuntime", "AlarmSimulation"], swiftSettings: strict),
        .executableTarget(name: "alarmctl", dependencies: [
            "AlarmRuntime", "Evidence", "PosixIO", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),
        .executableTarget(name: "alarm-centre", dependencies: [
            "SimCentre", "AlarmCodecs", "AlarmCore", "DC09", "PosixIO", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),
        .executableTarget(name: "alarm-sim", dependencies: [
            "AlarmRuntime", "PosixIO", "SimTools", "CentreSMS", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(name: "alarm-bench", dependencies: [
            "BenchHarness", "AlarmRuntime", "AlarmSimulation", "AlarmCore", "HAL", "SimBackends", "LinuxBackends", "SimCentre", "PosixIO", "SimTools",
            "ATModem", "ModemEmulator", "GPSD", "DC09", "AlarmCodecs", "SecureStore", "Evidence", "ALSA",
            "Provisioning", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log")], swiftSettings: strict),

        // The HIL rig scenario runner (a libmodbus client of the device's test port and the rig's I/O module).
        .target(name: "HILRig", dependencies: ["Modbus", "AlarmRuntime", "AlarmSimulation", "PosixIO", "SimTools", "AlarmCore",
                                               .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .executableTarget(name: "alarm-rig", dependencies: [
            "HILRig", "Modbus", "PosixIO", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log")], swiftSettings: strict),

        .executableTarget(name: "modem-emulator", dependencies: [
            "ModemEmulator", "LinuxBackends", "PosixIO", "HAL", "AlarmCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),

        // Writes NMEA logs of a walk for gpsfake (Tests/Fixtures/*.nmea).
        .executableTarget(name: "alarm-soak", dependencies: [
            "Soak", "PosixIO", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),
        .executableTarget(name: "nmea-route", dependencies: ["AlarmCore", 
            .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),

        .testTarget(name: "AlarmCoreTests", dependencies: ["AlarmCore"]),
        .testTarget(name: "BoardIOTests", dependencies: ["BoardIO", "HAL", "AlarmCore", "PosixIO",
                                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "HILTests", dependencies: ["HILRig", "Modbus", "CModbus", "AlarmRuntime", "AlarmSimulation", "AlarmCore", "PosixIO", "SimTools",
                                                     .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SoakTests", dependencies: ["Soak", "PosixIO"]),
        // Over the built binaries: what the device build links, and which boards it runs.
        .testTarget(name: "DeviceBuildTests", dependencies: ["PosixIO", "AlarmDaemon"]),
        .testTarget(name: "EvidenceTests", dependencies: ["Evidence", "AlarmCore"]),
        .testTarget(name: "AudioChecksTests", dependencies: ["AudioChecks"]),
        .testTarget(name: "AlarmCodecsTests", dependencies: ["AlarmCodecs", "AlarmCore", "PosixIO", "DC09", "CentreSMS"]),
        .testTarget(name: "PosixIOTests", dependencies: ["PosixIO", "ModemTestSupport"]),
        // Shared by the test targets: the driver on an emulated line, and event collectors.
        .target(name: "ModemTestSupport", dependencies: [
            "ATModem", "ModemEmulator", "AlarmCore", "HAL", "SimBackends", "PosixIO",
            .product(name: "Logging", package: "swift-log")], path: "Tests/ModemTestSupport"),
        .testTarget(name: "ATModemTests", dependencies: [
            "ATModem", "ModemEmulator", "ModemTestSupport", "AlarmCore", "AlarmCodecs", "HAL", "SimBackends", "PosixIO", "SimTools",
            .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "GPSDTests", dependencies: [
            "GPSD", "CLibGPS", "AlarmCore", "HAL", "SimBackends", "ModemTestSupport", "PosixIO", "LinuxBackends", "SimTools",
            .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ALSATests", dependencies: [
            "ALSA", "HAL", "AlarmCore", "SimBackends", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "AlarmRuntimeTests", dependencies: [
            "BenchHarness", "AlarmRuntime", "AlarmSimulation", "AlarmCore", "HAL", "SimBackends", "LinuxBackends", "SimCentre", "PosixIO", "SimTools",
            "ATModem", "ModemEmulator", "ModemTestSupport", "SecureStore", "AlarmCodecs", "DC09", "CentreSMS", "Evidence", "Provisioning",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log")]),

        // Signed provisioning: the operator's Ed25519-signed bundle of what decides where an alarm goes (docs/provisioning.md).
        .target(name: "Provisioning", dependencies: ["PosixIO", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strict),
        .executableTarget(name: "alarm-provision", dependencies: [
            "Provisioning", "PosixIO", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),
        .testTarget(name: "ProvisioningTests", dependencies: ["Provisioning", "PosixIO"]),
    ],
    swiftLanguageModes: [.v6]
)
