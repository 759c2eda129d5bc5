@testable import BoardIO
import AlarmCore
import HAL
import Testing

/// The power-supply class on a temporary directory shaped like /sys/class/power_supply/battery.
@Suite struct PowerSupplyMonitorTests {
    final class Harness {
        let sysfs: TemporaryDirectory
        let clock = TestClock()
        let log = LogCapture()
        let statuses = Collected<PowerStatus>()
        let monitor: PowerSupplyMonitor

        init(capacity: String = "87\n", status: String = "Discharging\n") throws {
            sysfs = try TemporaryDirectory()
            try sysfs.write("battery/capacity", capacity)
            try sysfs.write("battery/status", status)
            try sysfs.write("battery/present", "1\n")
            try sysfs.write("battery/voltage_now", "3987000\n")
            monitor = PowerSupplyMonitor(directory: sysfs.path + "/battery", clock: clock, logger: log.logger)
        }

        func start() throws {
            let statuses = self.statuses
            try monitor.start { statuses.append($0) }
        }
        var file: String { sysfs.path + "/battery" }
    }

    @Test func readsAtStartThenEveryMinuteReportingOnlyChanges() throws {
        let h = try Harness()
        try h.start()
        #expect(h.statuses.all == [PowerStatus(batteryPercent: 87, charging: false)])

        try h.sysfs.write("battery/capacity", "86\n")
        h.clock.advance(by: .seconds(59))
        #expect(h.statuses.all.count == 1)
        h.clock.advance(by: .seconds(1))
        #expect(h.statuses.all.last == PowerStatus(batteryPercent: 86, charging: false))

        // Nothing changed: nothing reported, but the timer keeps running.
        h.clock.advance(by: .seconds(180))
        #expect(h.statuses.all.count == 2)
        #expect(h.clock.pendingCount == 1)

        try h.sysfs.write("battery/status", "Charging\n")
        h.clock.advance(by: .seconds(60))
        try h.sysfs.write("battery/status", "Full\n")
        try h.sysfs.write("battery/capacity", "100\n")
        h.clock.advance(by: .seconds(60))
        try h.sysfs.write("battery/status", "Not charging\n")
        h.clock.advance(by: .seconds(60))
        #expect(h.statuses.all == [PowerStatus(batteryPercent: 87, charging: false),
                                   PowerStatus(batteryPercent: 86, charging: false),
                                   PowerStatus(batteryPercent: 86, charging: true),
                                   PowerStatus(batteryPercent: 100, charging: true),
                                   PowerStatus(batteryPercent: 100, charging: false)])
        #expect(h.log.lines.all.filter { $0.level >= .notice }.isEmpty)
    }

    @Test func aGarbledFileIsOneLogLineNamingItAndTheMonitorKeepsGoing() throws {
        let h = try Harness()
        try h.start()
        try h.sysfs.write("battery/capacity", "eighty\n")
        for _ in 0..<5 { h.clock.advance(by: .seconds(60)) }
        #expect(h.log.count(level: .warning, containing: "\(h.file)/capacity") == 1)
        #expect(h.log.count(level: .warning, containing: "\"eighty\"") == 1)
        #expect(h.statuses.all.count == 1)
        #expect(h.clock.pendingCount == 1)

        try h.sysfs.write("battery/capacity", "79\n")
        h.clock.advance(by: .seconds(60))
        #expect(h.log.count(level: .notice, containing: "\(h.file)/capacity readable again") == 1)
        #expect(h.statuses.all.last == PowerStatus(batteryPercent: 79, charging: false))
    }

    @Test func aMissingFileIsNamedOnceAndAnUnknownStatusIsRefused() throws {
        let h = try Harness(status: "Exploding\n")
        try h.start()
        #expect(h.statuses.all.isEmpty)
        #expect(h.log.count(level: .warning, containing: "\(h.file)/status") == 1)
        #expect(h.log.count(level: .warning, containing: "Exploding") == 1)

        h.sysfs.remove("battery/capacity")
        try h.sysfs.write("battery/status", "Discharging\n")
        h.clock.advance(by: .seconds(60))
        #expect(h.log.count(level: .warning, containing: "\(h.file)/capacity: missing") == 1)
        #expect(h.log.count(level: .notice, containing: "\(h.file)/status readable again") == 1)
        h.clock.advance(by: .seconds(600))
        #expect(h.log.count(level: .warning, containing: "capacity") == 1)
        #expect(h.statuses.all.isEmpty)
        #expect(h.clock.pendingCount == 1)
    }

    @Test func optionalFilesAndAnAbsentBattery() throws {
        let h = try Harness()
        h.sysfs.remove("battery/voltage_now")
        h.sysfs.remove("battery/present")
        try h.start()
        // Drivers without present or voltage_now are normal: a status, and nothing to complain about.
        #expect(h.statuses.all == [PowerStatus(batteryPercent: 87, charging: false)])
        #expect(h.log.lines.all.filter { $0.level >= .notice }.isEmpty)

        try h.sysfs.write("battery/present", "0\n")
        try h.sysfs.write("battery/capacity", "0\n")
        h.clock.advance(by: .seconds(60))
        #expect(h.statuses.all.count == 1)
        #expect(h.log.count(level: .warning, containing: "\(h.file)/present: says no battery is present") == 1)

        try h.sysfs.write("battery/voltage_now", "lots\n")
        let reading = PowerSupplyReading.read(directory: h.file)
        #expect(reading.problems.keys.sorted() == ["present", "voltage_now"])
        #expect(reading.status == nil)
    }

    @Test func stopEndsTheTimer() throws {
        let h = try Harness()
        try h.start()
        h.monitor.stop()
        #expect(h.clock.pendingCount == 0)
        try h.sysfs.write("battery/capacity", "50\n")
        h.clock.advance(by: .seconds(600))
        #expect(h.statuses.all.count == 1)
    }
}
