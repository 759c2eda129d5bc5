import AlarmCodecs
import AlarmCore
import HAL

/// Battery from the modem (`AT+CBC`), for boards whose fuel gauge is the modem (`power: "modem:cbc"`).
extension ATModemDriver: PowerMonitor {
    public func start(_ status: @escaping @Sendable (PowerStatus) -> Void) throws(HALError) {
        powerSink.withLock { $0 = status }
        let (ready, generation) = state.withLock { ($0.phase == .ready, $0.generation) }
        if ready { pollBattery(generation: generation) }
    }

    func pollBattery(generation: Int) {
        guard powerSink.withLock({ $0 != nil }), current(generation) else { return }
        engine.submit(ATCommand("AT+CBC", expecting: ["+CBC:"], priority: .background)) { [self] outcome in
            guard current(generation) else { return }
            // The next poll is armed before anyone hears of this one.
            let timer = clock.schedule(after: settings.batteryPollInterval) { [self] in pollBattery(generation: generation) }
            state.withLock { $0.batteryTimer?.cancel(); $0.batteryTimer = timer }
            if let charge = outcome.lines.compactMap(BatteryCharge.parse).first {
                // Quectel and SIMCom: status 1 = charging.
                powerSink.withLock { $0 }?(PowerStatus(batteryPercent: charge.percent, charging: charge.status == 1))
            }
        }
    }
}
