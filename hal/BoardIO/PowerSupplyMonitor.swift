import AlarmCore
import HAL
import Logging
import PosixIO
import Synchronization

/// The battery through the kernel's power-supply class (`/sys/class/power_supply/NAME`): `capacity` (0-100)
/// and `status` make the `PowerStatus`; `present` and `voltage_now` are read when the driver has them. The
/// files are re-read on a timer on the injected clock (every minute by default; a fuel gauge updates no
/// faster) and only changes are reported. A file that is missing or garbled is said once in the log, by
/// name; the monitor keeps reading and says so again when the file is back.
public final class PowerSupplyMonitor: PowerMonitor {
    public let directory: String
    public let interval: Duration

    private struct State {
        var sink: (@Sendable (PowerStatus) -> Void)?
        var reported: PowerStatus?
        var timer: (any Cancellable)?
        var stopped = false
        /// The problem last logged for each file, so each is said once.
        var problems: [String: String] = [:]
    }

    private let clock: any Clock
    private let logger: Logger
    private let state = Mutex(State())

    public init(directory: String, interval: Duration = .seconds(60), clock: any Clock, logger: Logger) {
        self.directory = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.interval = interval
        self.clock = clock
        var logger = logger
        logger[metadataKey: "power-supply"] = "\(self.directory)"
        self.logger = logger
    }

    /// Reads at once (the first status arrives before this returns when the files are good), then on the
    /// timer. Starting again only replaces the callback.
    public func start(_ status: @escaping @Sendable (PowerStatus) -> Void) throws(HALError) {
        let first = state.withLock { state -> Bool in
            defer { state.sink = status }
            return state.sink == nil && !state.stopped
        }
        if first { tick() }
    }

    public func stop() {
        state.withLock { state in
            state.stopped = true
            state.timer?.cancel()
            state.timer = nil
        }
    }

    private func tick() {
        let reading = PowerSupplyReading.read(directory: directory)
        let (sink, changes) = state.withLock { state -> ((@Sendable (PowerStatus) -> Void)?, ProblemChanges) in
            guard !state.stopped else { return (nil, ProblemChanges()) }
            let changes = ProblemChanges(before: state.problems, after: reading.problems)
            state.problems = reading.problems
            state.timer = clock.schedule(after: interval) { [self] in tick() }
            guard let status = reading.status, status != state.reported else { return (nil, changes) }
            state.reported = status
            return (state.sink, changes)
        }
        for (file, problem) in changes.appeared.sorted(by: { $0.key < $1.key }) {
            logger.warning("power supply: \(directory)/\(file): \(problem); still reading every \(interval)")
        }
        for file in changes.cleared.sorted() {
            logger.notice("power supply: \(directory)/\(file) readable again")
        }
        if let status = reading.status {
            logger.debug("power supply read", metadata: ["capacity": "\(status.batteryPercent)", "charging": "\(status.charging)",
                                                         "voltage-uV": "\(reading.voltageMicrovolts.map(String.init) ?? "-")"])
            sink?(status)
        }
    }
}

private struct ProblemChanges {
    var appeared: [String: String] = [:]
    var cleared: [String] = []

    init() {}

    init(before: [String: String], after: [String: String]) {
        appeared = after.filter { before[$0.key] != $0.value }
        cleared = before.keys.filter { after[$0] == nil }
    }
}

/// One reading of a power-supply directory (pure apart from the file reads, which tests point at a temp dir).
struct PowerSupplyReading: Equatable {
    /// nil when `capacity` or `status` could not be used, or no battery is present.
    var status: PowerStatus?
    var voltageMicrovolts: Int?
    /// File name → what is wrong with it.
    var problems: [String: String] = [:]

    /// The status texts the kernel defines (include/linux/power_supply.h, POWER_SUPPLY_STATUS_*).
    static let statusTexts = ["Unknown", "Charging", "Discharging", "Not charging", "Full"]

    static func read(directory: String) -> PowerSupplyReading {
        var reading = PowerSupplyReading()
        func text(_ file: String, required: Bool) -> String? {
            do {
                guard let bytes = try StorageDirectory.readFile(directory + "/" + file, limit: 256) else {
                    if required { reading.problems[file] = "missing" }
                    return nil
                }
                return String(decoding: bytes, as: UTF8.self)
            } catch {
                reading.problems[file] = "cannot be read (\(error))"
                return nil
            }
        }

        var present = true
        if let raw = text("present", required: false) {
            switch SysfsValue.trimmed(raw) {
            case "1": break
            case "0":
                present = false
                reading.problems["present"] = "says no battery is present"
            default: reading.problems["present"] = "expected 0 or 1, got \"\(SysfsValue.shown(raw))\""
            }
        }
        var capacity: Int?
        if let raw = text("capacity", required: true) {
            if let value = SysfsValue.integer(raw), (0...100).contains(value) {
                capacity = value
            } else {
                reading.problems["capacity"] = "expected a percentage 0-100, got \"\(SysfsValue.shown(raw))\""
            }
        }
        var charging: Bool?
        if let raw = text("status", required: true) {
            let value = String(SysfsValue.trimmed(raw))
            if statusTexts.contains(value) {
                // On external power: charging, or full and held there. "Not charging" (plugged in but
                // held, e.g. too cold) still counts down, so it is not charging for the low-battery warning.
                charging = value == "Charging" || value == "Full"
            } else {
                reading.problems["status"] = "expected one of \(statusTexts.joined(separator: ", ")), got \"\(SysfsValue.shown(raw))\""
            }
        }
        if let raw = text("voltage_now", required: false) {
            if let value = SysfsValue.integer(raw), value >= 0 {
                reading.voltageMicrovolts = value
            } else {
                reading.problems["voltage_now"] = "expected microvolts, got \"\(SysfsValue.shown(raw))\""
            }
        }
        if present, let capacity, let charging {
            reading.status = PowerStatus(batteryPercent: capacity, charging: charging)
        }
        return reading
    }
}
