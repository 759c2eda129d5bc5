extension Transition {
    /// The best position now: a fresh GNSS fix, else the last known fix with its age.
    /// The serving cell travels in every report beside it.
    func bestPosition() -> (fix: Fix, age: Duration, fresh: Bool)? {
        guard let last = state.lastFix else { return nil }
        let age = now - last.receivedAt
        var fix = last.fix
        let fresh = fix.source == .gnss && age <= settings.fixFreshness
            && fix.horizontalAccuracy <= settings.fixAccuracyLimit
        if fix.source == .gnss && !fresh { fix.source = .lastKnown }
        return (fix, age, fresh)
    }

    mutating func queueReport(_ kind: ReportKind) {
        let sequence = state.nextSequence
        state.nextSequence = sequence >= 9999 ? 1 : sequence + 1
        let best = bestPosition()
        var previous: [Fix] = []
        if var alarm = state.activeAlarm {
            previous = alarm.previousReported
            if let best {
                if let last = alarm.lastReported, last != best.fix {
                    previous = Array(([last] + previous).prefix(2))
                }
                alarm.previousReported = previous
                alarm.lastReported = best.fix
                alarm.lastReportedFresh = best.fresh
                self.alarm = alarm
            }
        }
        let report = Report(sequence: sequence, kind: kind, alarmNumber: state.activeAlarm?.number ?? state.alarmsRaised,
                            position: best?.fix, positionAge: best?.age,
                            previousPositions: previous, cell: state.network.status.cell,
                            button: kind == .periodicTest ? (state.buttonLostSince == nil ? .available : .lost) : nil)
        if kind == .positionUpdate { dropSupersededUpdates() }
        state.nextReportOrder += 1
        state.outbox[sequence] = PendingReport(report: report, attempts: 1, order: state.nextReportOrder)
        state.counters.reportsSent += 1
        effects.append(.sendReport(report))
        effects.append(.startTimer(.reportAck(sequence), after: settings.reportAckTimeout))
        if kind.mustArrive, settings.smsFallbackNumber != nil {
            effects.append(.startTimer(.smsFallback(sequence), after: settings.smsFallbackAfter))
        }
        if !state.network.data.carriesReports {
            // IP keeps trying in the background; the SMS does not wait for it to fail.
            if kind == .positionUpdate { positionBySMS() } else if kind.mustArrive { sendBySMS(sequence) }
        }
    }

    /// A newer position makes an unacknowledged older update worthless; resending it would only delay the new one.
    mutating func dropSupersededUpdates() {
        for (sequence, pending) in state.outbox where pending.report.isSupersededByNewerUpdate {
            state.outbox[sequence] = nil
            effects.append(.cancelTimer(.reportAck(sequence)))
            effects.append(.cancelTimer(.reportRetry(sequence)))
        }
    }

    mutating func reportOutcome(_ sequence: Int, _ outcome: ReportOutcome) {
        guard let pending = state.outbox[sequence] else { return }  // a duplicate or late answer
        switch outcome {
        case .acknowledged:
            state.outbox[sequence] = nil
            state.counters.reportsAcknowledged += 1
            effects.append(.cancelTimer(.reportAck(sequence)))
            effects.append(.cancelTimer(.reportRetry(sequence)))
            effects.append(.cancelTimer(.smsFallback(sequence)))
            if let alarm, alarm.number == pending.report.alarmNumber, pending.report.kind.belongsToAlarm { markDelivered(.report) }
            // The link works again: whatever waits out a backoff goes now.
            flushOutbox()
        case .rejected, .failed:
            effects.append(.cancelTimer(.reportAck(sequence)))
            scheduleRetry(sequence)
        case .refused:
            effects.append(.cancelTimer(.reportAck(sequence)))
            guard pending.report.kind.mustArrive else {
                // A position (or a duty report) the receiver cannot process: a newer one supersedes it.
                effects.append(.cancelTimer(.reportRetry(sequence)))
                state.outbox[sequence] = nil
                return
            }
            // What must arrive is never given up over IP, whatever the receiver (or someone on the path) answered:
            // the SMS goes at once, and IP keeps retrying with the capped backoff.
            sendBySMS(sequence)
            scheduleRetry(sequence)
        }
    }

    mutating func reportTimedOut(_ sequence: Int) {
        guard state.outbox[sequence] != nil else { return }
        scheduleRetry(sequence)
    }

    mutating func scheduleRetry(_ sequence: Int) {
        guard var pending = state.outbox[sequence] else { return }
        pending.awaitingAnswer = false
        state.outbox[sequence] = pending
        let delay = backoff(initial: settings.reportRetryInitialDelay, maximum: settings.reportRetryMaxDelay,
                            step: pending.attempts - 1)
        effects.append(.startTimer(.reportRetry(sequence), after: delay))

    }

    /// The SMS fallback for one report, once per report (the IP copy stays queued: the centre's system
    /// needs it, and drops the duplicate by sequence).
    mutating func sendBySMS(_ sequence: Int) {
        guard let number = settings.smsFallbackNumber, var pending = state.outbox[sequence], !pending.smsSent else { return }
        pending.smsSent = true
        state.outbox[sequence] = pending
        effects.append(.sendSMS(to: number, pending.report))
    }

    /// Resends, oldest first, every report waiting out a retry backoff (the data path is back).
    mutating func flushOutbox() {
        let waiting = state.outbox.values.filter { !$0.awaitingAnswer && !$0.refused }.sorted { $0.order < $1.order }
        for pending in waiting {
            effects.append(.cancelTimer(.reportRetry(pending.report.sequence)))
            resend(pending.report.sequence)
        }
    }

    mutating func resend(_ sequence: Int) {
        guard var pending = state.outbox[sequence], !pending.refused else { return }
        pending.awaitingAnswer = true
        pending.attempts += 1
        state.outbox[sequence] = pending
        state.counters.reportResends += 1
        effects.append(.sendReport(pending.report))
        effects.append(.startTimer(.reportAck(sequence), after: settings.reportAckTimeout))
    }

    mutating func smsOutcome(_ sequence: Int, accepted: Bool) {
        guard var pending = state.outbox[sequence] else { return }
        if accepted {
            // The IP report stays in the outbox (the centre's system still needs it), unless IP refused it for good.
            if let alarm, alarm.number == pending.report.alarmNumber { markDelivered(.sms) }
            if pending.refused { state.outbox[sequence] = nil }
        } else {
            pending.smsSent = false
            state.outbox[sequence] = pending
        }
    }
}
