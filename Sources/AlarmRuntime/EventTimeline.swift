import AlarmCore

extension DeviceRuntime {
    /// Puts an incoming event on the timeline and in the log. Fix events are logged at debug level only
    /// (with coordinates), and reach the timeline only as "fix acquired" / "fix lost" transitions.
    func describe(_ event: Event, before: AlarmState, after: AlarmState) {
        switch event.input {
        case .button(let edge):
            publish(.button, "button \(edge.rawValue)")
        case .timer(let id):
            logger.trace("timer fired", metadata: ["timer": "\(id)"])
        case .fix(let fix):
            logger.debug("fix", metadata: ["lat": "\(fix.latitude)", "lon": "\(fix.longitude)",
                                           "accuracy": "\(fix.horizontalAccuracy)"])
            let reacquired = inner.withLock { inner in
                defer { inner.fixLost = false }
                return inner.fixLost
            }
            if before.lastFix == nil || reacquired {
                publish(.position, "position fix acquired (\(fix.source.rawValue) \(accuracyText(fix.horizontalAccuracy)))")
            }
        case .restoredFix(let fix, let age):
            publish(.position, "last known position restored (\(fix.source.rawValue) \(accuracyText(fix.horizontalAccuracy)), \(Self.seconds(age)) old)")
        case .fixLost:
            let newlyLost = inner.withLock { inner in
                defer { inner.fixLost = true }
                return !inner.fixLost
            }
            if newlyLost {
                publish(.position, "no position fix")
            }
        case .started:
            break
        case .resumed(let saved):
            publish(.boot, "journal restored: \(saved.outbox.count) report(s) to deliver" + {
                if case .alarm(let alarm) = saved.mode { return ", alarm #\(alarm.number) active" }
                return ""
            }())
        case .storageHealth, .microphoneHealth, .receiverTimeHealth, .provisioningRefused:
            break
        case .buttonHealth:
            // The runtime said what the backend reported when it arrived; trouble reports show as reports.
            break
        case .dataPath(let path):
            if before.network.data != path {
                publish(.network, "data path \(path.rawValue)")
                logger.info("data path", metadata: ["state": "\(path.rawValue)"])
            }
        case .network(let status):
            let old = before.network.status
            if old.registration != status.registration || old.emergencyCallsPossible != status.emergencyCallsPossible {
                let limited = !status.registration.isRegistered && status.emergencyCallsPossible ? ", emergency calls only" : ""
                let signal = status.signal.map { ", signal \($0)/31" } ?? ""
                let ready = status.registration.isRegistered ? "modem ready: " : "modem: "
                publish(.network, "\(ready)\(status.registration.rawValue)\(limited)\(signal)")
                logger.info("registration", metadata: ["state": "\(status.registration.rawValue)"])
            }
        case .call(let id, let progress):
            guard before.call?.id == id else { return }
            switch progress {
            case .dialing: publish(.call, "\(id) dialling")
            case .alerting: publish(.call, "\(id) ringing at the far end")
            case .connected:
                let call = before.call
                if call?.emergency == true {
                    publish(.call, "\(id) connected to the emergency number \(call?.number ?? ""): the operator is listening")
                } else if call?.placedByDevice == false {
                    publish(.call, "\(id) connected (answered call from \(call?.number ?? "?"); not counted as reaching the centre)")
                } else {
                    publish(.call, "\(id) connected: the centre is listening")
                }
            case .ended(let reason): publish(.call, "\(id) ended (\(reason))")
            }
        case .incomingCall(let id, let caller):
            publish(.incoming, "incoming call \(id) from \(caller ?? "withheld number")")
        case .existingCall(let existing):
            publish(.call, "the modem already had call \(existing.id): \(existing.outgoing ? "outgoing to" : "incoming from") "
                + "\(existing.number ?? "withheld number"), \(existing.status.rawValue)")
        case .report(let sequence, let outcome):
            guard before.outbox[sequence] != nil else { return }
            switch outcome {
            case .acknowledged: publish(.reportAck, "report #\(sequence) acknowledged by the centre")
            case .rejected: publish(.reportFailed, "report #\(sequence) rejected by the centre")
            case .failed(let kind): publish(.reportFailed, "report #\(sequence) not sent: \(kind.rawValue)")
            case .refused: publish(.reportFailed, "report #\(sequence) refused by the receiver (cannot process it): not resent over IP")
            }
        case .sms(let sequence, let accepted):
            publish(.sms, "fallback SMS for report #\(sequence) \(accepted ? "accepted by the network" : "refused")")
        case .centre:
            // The core announces what it did with the command (`Milestone.centreCommand`): one record, after the fact.
            break
        case .power(let status):
            if before.power?.charging != status.charging || before.power == nil {
                publish(.device, "battery \(status.batteryPercent)%\(status.charging ? ", charging" : "")")
            }
        }
    }
}
