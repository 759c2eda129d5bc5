/// The human form of `alarmctl status`.
public enum StatusText {
    public static func render(_ s: RuntimeStatus) -> String {
        var lines: [String] = []
        func row(_ key: String, _ value: String) {
            lines.append(key + String(repeating: " ", count: max(1, 16 - key.count)) + value)
        }
        row("device", "\(s.device) (board \(s.board)), up \(seconds(s.uptimeMilliseconds)), firmware \(s.firmware)")
        row("provisioning", s.provisioning ?? "none (not a device board)")
        var alarm = s.mode
        if let number = s.alarmNumber, let age = s.alarmAgeMilliseconds {
            alarm += " #\(number) for \(seconds(age))" + (s.delivered == true ? ", delivered" : ", not yet delivered")
        }
        row("alarm", alarm)
        var network = s.registration + (s.emergencyCallsOnly ? " (emergency calls only)" : "")
        if let signal = s.signal { network += ", signal \(signal)/31" }
        if let cell = s.cell { network += ", cell \(cell.mcc)-\(cell.mnc) \(cell.areaCode)/\(cell.cellID) \(cell.accessTechnology)" }
        row("network", network)
        if let fix = s.lastFix {
            let satellites = fix.satellitesUsed.map { ", \($0) satellites" } ?? ""
            row("last fix", "\(fix.latitude), \(fix.longitude) \(accuracyText(fix.accuracy)) (\(fix.source)\(satellites)), \(seconds(fix.ageMilliseconds)) old")
        } else {
            row("last fix", "none")
        }
        if let button = s.button { row("button", button) }
        if let battery = s.batteryPercent { row("battery", "\(battery)%" + (s.charging == true ? ", charging" : "")) }
        if let call = s.call { row("call", "\(call.id) \(call.number ?? "?") \(call.connected ? "connected" : "setting up")") }
        row("data path", s.dataPath)
        row("report link", "\(s.reportLink), \(s.pendingReports) report(s) awaiting acknowledgement")
        let c = s.counters
        row("counters", "alarms \(s.alarmsRaised), reports queued \(c.reportsSent) / frames sent \(s.reportsTransmitted) / acknowledged \(c.reportsAcknowledged) / resent \(c.reportResends), calls placed \(c.callsPlaced) / connected \(c.callsConnected) / rejected \(c.callsRejected)")
        if let time = s.time, let first = time.first {
            row("time", first)
            for line in time.dropFirst() { row("", "  " + line) }
        }
        row("microphone", "\(s.microphone.map { "\($0), " } ?? "")\(s.audioFrames) frames, \(s.audioFaults) faults")
        return lines.joined(separator: "\n")
    }

    static func seconds(_ ms: Int64) -> String {
        ms < 60_000 ? "\(ms / 1000).\(ms % 1000 / 100) s" : "\(ms / 60_000) min \(ms / 1000 % 60) s"
    }
}
