extension Transition {
    /// Losing IP sends what must arrive by SMS at once and lets positions follow by SMS at a limited rate;
    /// IP keeps retrying all along, and its return sends everything that waits out a backoff.
    mutating func dataPathChanged(_ path: DataPath) {
        let before = state.network.data
        state.network.data = path
        guard before.carriesReports != path.carriesReports else { return }
        if path.carriesReports {
            if var alarm {
                alarm.positionSMSPending = false
                self.alarm = alarm
            }
            effects.append(.cancelTimer(.positionSMSDue))
            flushOutbox()
            return
        }
        let mustArrive = state.outbox.values.filter { $0.report.kind.mustArrive }.sorted { $0.order < $1.order }
        for pending in mustArrive { sendBySMS(pending.report.sequence) }
        positionBySMS()
    }

    /// The newest unsent position of the active alarm goes by SMS, at most once per `positionSMSInterval`
    /// (SMS is slow, costs money and shares the AT channel with call control).
    mutating func positionBySMS() {
        guard settings.smsFallbackNumber != nil, var alarm, !state.network.data.carriesReports else { return }
        if let last = alarm.lastPositionSMSAt, now - last < settings.positionSMSInterval {
            if !alarm.positionSMSPending {
                alarm.positionSMSPending = true
                self.alarm = alarm
                effects.append(.startTimer(.positionSMSDue, after: settings.positionSMSInterval - (now - last)))
            }
            return
        }
        let newest = state.outbox.values
            .filter { $0.report.kind == .positionUpdate && $0.report.alarmNumber == alarm.number && !$0.smsSent }
            .max { $0.order < $1.order }
        guard let newest else { return }
        alarm.lastPositionSMSAt = now
        alarm.positionSMSPending = false
        self.alarm = alarm
        sendBySMS(newest.report.sequence)
    }

    mutating func positionSMSDue() {
        guard var alarm else { return }
        alarm.positionSMSPending = false
        self.alarm = alarm
        positionBySMS()
    }
}
