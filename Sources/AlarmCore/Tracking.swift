extension Transition {
    mutating func trackingTick() {
        guard state.activeAlarm != nil else { return }
        if state.lastFix != nil || state.network.status.cell != nil {
            queueReport(.positionUpdate)
        }
        effects.append(.startTimer(.trackingTick, after: settings.trackingInterval))
    }

    mutating func fixReceived(_ fix: Fix) {
        state.lastFix = ReceivedFix(fix: fix, receivedAt: now)
        guard let alarm, let best = bestPosition(), best.fresh else { return }
        let better = alarm.lastReported == nil || !alarm.lastReportedFresh
        let moved = alarm.lastReported.map { fix.distance(to: $0) > fix.horizontalAccuracy } ?? true
        guard better || moved else { return }
        queueReport(.positionUpdate)
        // The next periodic update counts from this one.
        effects.append(.startTimer(.trackingTick, after: settings.trackingInterval))
    }
}
