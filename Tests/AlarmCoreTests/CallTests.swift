import AlarmCore
import Testing

@Suite struct CallTests {
    func registered() -> NetworkStatus { NetworkStatus(registration: .home, signal: 20) }

    @Test func busyMovesToNextNumberAfterBackoffAndCycles() throws {
        var h = Harness()
        h.send(.network(registered()))
        h.trigger()
        #expect(h.dials == ["+3220000001"])
        h.send(.call(try #require(h.currentCall), .ended(.busy)))
        #expect(h.effects.contains(.startTimer(.redial, after: .seconds(2))))
        #expect(h.advance(.milliseconds(1999)).dialled.isEmpty)
        #expect(h.advance(.milliseconds(1)).dialled == ["+3220000002"])
        h.send(.call(try #require(h.currentCall), .ended(.noAnswer)))
        // Back to the first number; every attempt of the second cycle waits twice as long.
        #expect(h.effects.contains(.startTimer(.redial, after: .seconds(2))))
        #expect(h.advance(.seconds(2)).dialled == ["+3220000001"])
        h.send(.call(try #require(h.currentCall), .ended(.dialFailed(.rejected))))
        #expect(h.effects.contains(.startTimer(.redial, after: .seconds(4))))
        #expect(h.advance(.seconds(4)).dialled == ["+3220000002"])
    }

    @Test func backoffIsCapped() throws {
        var h = Harness { $0.centreNumbers = ["+321"] }
        h.send(.network(registered()))
        h.trigger()
        var delays: [Duration] = []
        for _ in 0..<8 {
            let effects = h.send(.call(try #require(h.currentCall), .ended(.noCarrier)))
            for case .startTimer(.redial, let after) in effects { delays.append(after) }
            _ = h.advance(.seconds(60))
        }
        #expect(delays == [.seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30), .seconds(30), .seconds(30)])
    }

    @Test func connectedCallIsDeliveryAndDropIsRedialled() throws {
        var h = Harness()
        h.send(.network(registered()))
        h.trigger()
        let call = try #require(h.currentCall)
        h.send(.call(call, .alerting))
        #expect(!h.indications.contains(.delivered))
        h.send(.call(call, .connected))
        #expect(h.effects.contains(.indicate(.delivered)))
        #expect(h.effects.milestones == [.delivered(.call)])
        // The radio link drops the call: redial at once, same number.
        h.send(.call(call, .ended(.networkFailure)))
        #expect(h.effects.dialled == ["+3220000001"])
        // Delivered is signalled once per alarm.
        h.send(.call(try #require(h.currentCall), .connected))
        #expect(!h.effects.contains(.indicate(.delivered)))
    }

    @Test func unknownEndCauseCountsAsDrop() throws {
        var h = Harness()
        h.trigger()
        h.send(.call(try #require(h.currentCall), .connected))
        h.send(.call(try #require(h.currentCall), .ended(.unknown)))
        #expect(h.effects.dialled == ["+3220000001"])
    }

    @Test func centreHangUpIsNotRedialledButTrackingContinues() throws {
        var h = Harness()
        h.trigger()
        h.send(.call(try #require(h.currentCall), .connected))
        h.send(.call(try #require(h.currentCall), .ended(.normalClearing)))
        #expect(h.effects.dialled.isEmpty)
        #expect(h.effects.milestones == [.centreHungUp])
        #expect(h.state.activeAlarm != nil)
        h.send(.fix(brussels))
        let later = h.advance(.seconds(120))
        #expect(later.dialled.isEmpty)
        #expect(!later.reports.isEmpty)
    }

    @Test func lateEventsOfAnAbandonedAttemptAreIgnored() throws {
        var h = Harness()
        h.trigger()
        let first = try #require(h.currentCall)
        // No progress at all from the modem: give the attempt up.
        let effects = h.advance(.seconds(60))
        #expect(effects.contains(.hangUp(first)))
        _ = h.advance(.seconds(2))
        let second = try #require(h.currentCall)
        #expect(second != first)
        h.send(.call(first, .connected))
        #expect(h.state.call?.connected == false)
        #expect(!h.indications.contains(.delivered))
    }

    @Test func noRegistrationForSixtySecondsWithLimitedServiceDialsEmergencyNumber() throws {
        var h = Harness()
        h.send(.network(NetworkStatus(registration: .searching, emergencyCallsPossible: true)))
        h.trigger()
        // Centre numbers fail while there is no service.
        var failures = 0
        while h.now < .origin + .seconds(61) {
            if let call = h.currentCall, h.state.call?.number != "112" {
                h.send(.call(call, .ended(.dialFailed(.notReady))))
                failures += 1
            }
            _ = h.advance(.seconds(1))
        }
        #expect(failures >= 2)
        #expect(h.dials.last == "112")
        #expect(h.all.milestones.contains(.emergencyFallback(number: "112")))
        #expect(h.reports.map(\.kind).contains(.emergencyCallPlaced))
        // Registration comes back: the next attempt goes to the centre again.
        h.send(.call(try #require(h.currentCall), .ended(.noCarrier)))
        h.send(.network(registered()))
        #expect(h.effects.dialled.first?.hasPrefix("+32") == true)
    }

    @Test func noEmergencyFallbackWithoutLimitedService() throws {
        var h = Harness()
        h.send(.network(NetworkStatus(registration: .searching, emergencyCallsPossible: false)))
        h.trigger()
        for _ in 0..<40 {
            if let call = h.currentCall { h.send(.call(call, .ended(.dialFailed(.notReady)))) }
            _ = h.advance(.seconds(5))
        }
        #expect(!h.dials.contains("112"))
    }

    @Test func registrationArrivingCutsTheBackoffShort() throws {
        var h = Harness { $0.redialInitialDelay = .seconds(20) }
        h.send(.network(NetworkStatus(registration: .searching)))
        h.trigger()
        h.send(.call(try #require(h.currentCall), .ended(.dialFailed(.notReady))))
        _ = h.advance(.seconds(3))
        h.send(.network(registered()))
        #expect(h.effects.dialled == ["+3220000002"])
    }
}

@Suite struct IncomingCallTests {
    @Test func centreCallbackAnsweredOnlyDuringAnAlarmThatReachedTheCentre() throws {
        var h = Harness { $0.callbackWindow = .seconds(1800) }
        // Before any alarm: even the centre's number is not answered (caller ID can be spoofed).
        h.send(.incomingCall(.incoming(1), caller: "+3220000001"))
        #expect(h.effects.contains(.reject(.incoming(1))))
        #expect(!h.effects.contains(.answer(.incoming(1))))

        h.trigger()
        h.send(.call(try #require(h.currentCall), .connected))
        h.send(.call(try #require(h.currentCall), .ended(.normalClearing)))
        h.send(.incomingCall(.incoming(2), caller: "0032 2000 0002"))
        #expect(h.effects.contains(.answer(.incoming(2))))
        h.send(.call(.incoming(2), .connected))
        h.send(.call(.incoming(2), .ended(.normalClearing)))

        h.send(.centre(.endAlarm))
        _ = h.advance(.seconds(10))
        // After the alarm nobody is answered on caller ID alone: the centre sends CALL n and the device dials out.
        h.send(.incomingCall(.incoming(3), caller: "+3220000001"))
        #expect(h.effects.contains(.reject(.incoming(3))))
        #expect(!h.effects.contains(.answer(.incoming(3))))
        #expect(h.advance(.seconds(1)).dialled.isEmpty)
    }

    @Test func unknownAndWithheldCallersRejectedEvenDuringAlarm() throws {
        var h = Harness()
        h.trigger()
        h.send(.incomingCall(.incoming(7), caller: "+32470123456"))
        #expect(h.effects.contains(.reject(.incoming(7))))
        h.send(.incomingCall(.incoming(8), caller: nil))
        #expect(h.effects.contains(.reject(.incoming(8))))
        #expect(h.effects.milestones == [.callerRejected(caller: nil)])
    }

    @Test func callWaitingDuringConnectedCallIsRejectedWithoutTouchingIt() throws {
        var h = Harness()
        h.trigger()
        let call = try #require(h.currentCall)
        h.send(.call(call, .connected))
        h.send(.incomingCall(.incoming(9), caller: "+3220000001"))
        #expect(h.effects.first == .reject(.incoming(9)))
        #expect(!h.effects.contains(.hangUp(call)))
        #expect(h.state.call?.id == call)
    }
}

@Suite struct RegistrationRaceTests {
    @Test func attemptPlacedWithoutRegistrationThatFailsAfterRegistrationIsRetriedAtOnce() throws {
        var h = Harness()
        h.send(.network(NetworkStatus(registration: .searching)))
        h.trigger()
        let call = try #require(h.currentCall)
        h.send(.network(NetworkStatus(registration: .home)))
        // The attempt is still in flight: nothing new yet.
        #expect(h.effects.dialled.isEmpty)
        h.send(.call(call, .ended(.dialFailed(.notReady))))
        #expect(h.effects.dialled.count == 1)
    }
}
