extension Transition {
    /// The driver reports `unknown` registration whenever the modem is not usable (starting, recovering, gone).
    mutating func watchModemHealth(_ status: NetworkStatus) {
        if status.registration == .unknown {
            guard !state.modemTroubleTimerRunning, !state.modemTroubleReported else { return }
            state.modemTroubleTimerRunning = true
            effects.append(.startTimer(.modemTrouble, after: settings.modemTroubleAfter))
            return
        }
        if state.modemTroubleTimerRunning {
            state.modemTroubleTimerRunning = false
            effects.append(.cancelTimer(.modemTrouble))
        }
        if state.modemTroubleReported {
            state.modemTroubleReported = false
            queueReport(.modemRestored)
        }
    }

    /// After a trouble report, the first GNSS fix reports the restore and starts the watch again. (Fixes otherwise
    /// touch no timer: the watch looks at the last fix when it fires.)
    mutating func watchGNSSHealth(_ fix: Fix) {
        guard fix.source == .gnss, state.gnssTroubleReported else { return }
        state.gnssTroubleReported = false
        queueReport(.gnssRestored)
        effects.append(.startTimer(.gnssTrouble, after: settings.gnssTroubleAfter))
    }

    /// The runtime says so once per process (the receiver's date stays wrong until it is serviced): one report, no
    /// restore. Its fixes keep flowing, dated by the device.
    mutating func receiverTimeChecked(_ ok: Bool) {
        guard !ok else { return }
        queueReport(.gnssTimeTrouble)
    }

    mutating func gnssWatchFired() {
        if let last = state.lastFix, last.fix.source == .gnss, now - last.receivedAt < settings.gnssTroubleAfter {
            effects.append(.startTimer(.gnssTrouble, after: settings.gnssTroubleAfter - (now - last.receivedAt)))
            return
        }
        guard !state.gnssTroubleReported else { return }
        state.gnssTroubleReported = true
        queueReport(.gnssTrouble)
    }
}

extension Transition {
    /// A lost button is trouble only after `buttonTroubleAfter`: the backend reopens a vanished device from 0.5 s on,
    /// and a glitch it recovers from within the grace is nothing the centre can act on. The restore is reported only
    /// after a trouble report.
    mutating func buttonHealthChanged(_ health: ButtonHealth) {
        switch health {
        case .lost:
            guard state.buttonLostSince == nil else { return }
            state.buttonLostSince = now
            if !state.buttonTroubleReported {
                effects.append(.startTimer(.buttonTrouble, after: settings.buttonTroubleAfter))
            }
        case .available:
            guard state.buttonLostSince != nil || state.buttonTroubleReported else { return }
            // The watch runs only while lost and not yet reported.
            if state.buttonLostSince != nil, !state.buttonTroubleReported { effects.append(.cancelTimer(.buttonTrouble)) }
            state.buttonLostSince = nil
            if state.buttonTroubleReported {
                state.buttonTroubleReported = false
                queueReport(.buttonRestored)
            }
        }
    }

    mutating func buttonWatchFired() {
        guard state.buttonLostSince != nil, !state.buttonTroubleReported else { return }
        state.buttonTroubleReported = true
        queueReport(.buttonTrouble)
    }
}
