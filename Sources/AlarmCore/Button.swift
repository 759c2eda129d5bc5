extension Transition {
    mutating func button(_ edge: ButtonEdge) {
        switch edge {
        case .pressed:
            state.button.pressedAt = now
            state.button.currentPressTriggered = false
            effects.append(.startTimer(.triggerHold, after: settings.triggerHold))
        case .released:
            guard let pressedAt = state.button.pressedAt else { return }  // a release without a press: ignore
            state.button.pressedAt = nil
            effects.append(.cancelTimer(.triggerHold))
            if state.button.currentPressTriggered { return }
            if now - pressedAt >= settings.triggerHold {
                // The hold timer was late (busy runtime): the edges' own timestamps decide.
                state.button.currentPressTriggered = true
                raiseAlarm()
            } else {
                shortPress()
            }
        }
    }

    mutating func holdElapsed() {
        guard let pressedAt = state.button.pressedAt, !state.button.currentPressTriggered,
              now - pressedAt >= settings.triggerHold else { return }
        state.button.currentPressTriggered = true
        raiseAlarm()
    }

    mutating func shortPress() {
        guard let gesture = settings.cancelGesture, state.activeAlarm != nil else { return }
        state.button.shortPresses.removeAll { now - $0 > gesture.within }
        state.button.shortPresses.append(now)
        if state.button.shortPresses.count == 1 {
            effects.append(.startTimer(.cancelGestureWindow, after: gesture.within))
        }
        if state.button.shortPresses.count >= gesture.presses {
            state.button.shortPresses.removeAll()
            effects.append(.cancelTimer(.cancelGestureWindow))
            // Reported only: the call and tracking go on, the centre decides.
            effects.append(.announce(.cancelRequested))
            queueReport(.cancelRequested)
        }
    }
}
