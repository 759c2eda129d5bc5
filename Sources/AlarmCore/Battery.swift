extension Transition {
    /// Low and critical are reported once each until the battery recovers (charging, or 5 points above low),
    /// which is reported too. Critical carries the position: it may be the last the centre hears.
    mutating func powerChanged(_ status: PowerStatus) {
        state.power = status
        let percent = status.batteryPercent
        if status.charging || percent >= settings.batteryLowPercent + 5 {
            if state.batteryLowReported || state.batteryCriticalReported {
                state.batteryLowReported = false
                state.batteryCriticalReported = false
                queueReport(.batteryRestored)
            }
            return
        }
        if percent <= settings.batteryCriticalPercent, !state.batteryCriticalReported {
            state.batteryCriticalReported = true
            state.batteryLowReported = true
            queueReport(.batteryCritical)
        } else if percent <= settings.batteryLowPercent, !state.batteryLowReported {
            state.batteryLowReported = true
            queueReport(.batteryLow)
        }
    }
}
