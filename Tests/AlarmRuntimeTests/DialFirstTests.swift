import ATModem
import AlarmCore
import AlarmRuntime
import Dispatch
import Glibc
import HAL
import Logging
import ModemEmulator
import ModemTestSupport
import SimBackends
import Synchronization
import Testing

/// Storage as slow as an SD card's fsync (200 ms per write). While the trigger's entry is being written it watches
/// the modem's side of the line: if the dial was written to the pty before the write began, the emulator receives
/// it during the write; if it were queued behind the write it could not arrive before the write returned.
final class LineWatchingJournal: JournalStore {
    struct Write: Sendable {
        var atdSeenAtStart: Bool
        var atdSeenBeforeReturning: Bool
        var reportsSentBeforeReturning: Int
    }

    let inner = InMemoryJournal()
    let fsync: Duration
    let atdReceived: @Sendable () -> Bool
    let reportsSent: @Sendable () -> Int
    /// Set by the test just before the trigger: the next write is the trigger's.
    let armed = Mutex(false)
    let writes = Mutex<[Write]>([])
    /// Signalled when an armed write begins (the test waits for the write to be under way, not for time to pass).
    let armedWriteBegan = DispatchSemaphore(value: 0)

    init(fsync: Duration, atdReceived: @escaping @Sendable () -> Bool, reportsSent: @escaping @Sendable () -> Int) {
        self.fsync = fsync
        self.atdReceived = atdReceived
        self.reportsSent = reportsSent
    }

    var size: Int { inner.size }
    func latest() throws(HALError) -> (entry: [UInt8]?, problems: [String]) { try inner.latest() }
    func append(_ entry: [UInt8]) throws(HALError) {
        slowWrite()
        try inner.append(entry)
    }
    func reset(to entry: [UInt8]?) throws(HALError) {
        slowWrite()
        try inner.reset(to: entry)
    }

    /// The fsync's 200 ms, spent watching the line (this is the slow storage itself, not a test waiting).
    private func slowWrite() {
        let watching = armed.withLock { armed -> Bool in
            defer { armed = false }
            return armed
        }
        let atStart = atdReceived()
        if watching { armedWriteBegan.signal() }
        var seen = atStart
        let steps = Int(fsync.components.seconds * 1000 + fsync.components.attoseconds / 1_000_000_000_000_000)
        for _ in 0..<max(steps, 1) {
            usleep(1000)
            if !seen { seen = atdReceived() }
        }
        if watching {
            let write = Write(atdSeenAtStart: atStart, atdSeenBeforeReturning: seen, reportsSentBeforeReturning: reportsSent())
            writes.withLock { $0.append(write) }
        }
    }
}

/// A device on the emulated line: the real AT driver, a simulated button, position and report link, and storage whose
/// every write takes `fsync` while it watches the line.
func slowStorageDevice(on line: EmulatedModemLine, fsync: Duration, eventLoop: DeviceRuntime.EventLoop)
    -> (DeviceRuntime, SimButton, SimReportLink, LineWatchingJournal) {
    let clock = line.clock
    let emulator = line.emulator
    let button = SimButton(clock: clock)
    let link = SimReportLink(clock: clock, dataAvailable: { emulator.registration.isRegistered })
    let journal = LineWatchingJournal(fsync: fsync, atdReceived: { !emulator.dialledNumbers.isEmpty },
                                      reportsSent: { link.received.count })
    var alarm = AlarmSettings()
    alarm.centreNumbers = ["+3292000101"]
    var backends = Backends(button: button,
                            position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                            network: line.driver, calls: line.driver, sms: line.driver, reportLink: link,
                            store: InMemoryRecordStore())
    backends.alarmAwareModem = line.driver
    backends.journal = journal
    let runtime = DeviceRuntime(machine: AlarmMachine(settings: alarm), identity: .init(deviceID: "BE-DIAL-1", boardName: "dial"),
                                clock: clock, backends: backends, silence: .noSpeaker,
                                logger: Logger(label: "slow-storage", factory: { _ in SwiftLogNoOpLogHandler() }),
                                eventLoop: eventLoop)
    return (runtime, button, link, journal)
}

@Suite(.serialized) struct DialFirstTests {
    /// The trigger's dial reaches the modem before the journal's fsync returns and without any supplementary-service
    /// request ahead of it; the alarm report (whose sequence must survive a restart) leaves only after its entry.
    @Test func dialIsOnTheWireBeforeTheTriggersJournalWriteFinishes() throws {
        // A network that answers supplementary-service requests in 3 s and accepts a call 300 ms after ATD.
        var network = EmulatorSettings()
        network.supplementaryServiceDelay = .seconds(3)
        network.dialAcceptDelay = .milliseconds(300)
        let line = try EmulatedModemLine(emulator: network)
        defer { line.close() }
        let emulator = line.emulator
        let (runtime, button, link, journal) = slowStorageDevice(on: line, fsync: .milliseconds(200), eventLoop: .callerThread)
        try runtime.start()
        try line.openAndWaitUntilReady()
        // Call waiting is switched off once the modem is ready (3 s at the network), never at the trigger.
        line.advance(.seconds(4))
        #expect(emulator.supplementaryServiceRequests.map(\.command) == ["AT+CCWA=1,0"])
        #expect(emulator.supplementaryServiceRequests.allSatisfy { $0.answeredAt != nil })
        let commandsBeforeTrigger = emulator.transcript.filter { $0.hasPrefix("→ AT") }.count
        let requestsBeforeTrigger = emulator.supplementaryServiceRequestCount

        journal.armed.withLock { $0 = true }
        button.press(holding: .milliseconds(2500))
        line.advance(.milliseconds(2100))
        #expect(line.waitFor { !emulator.dialledNumbers.isEmpty })
        #expect(line.waitFor { !link.received.isEmpty })

        let write = try #require(journal.writes.withLock { $0.first }, "the trigger wrote no journal entry")
        #expect(write.atdSeenBeforeReturning, "the ATD was not on the wire while the trigger's entry was being written")
        #expect(write.reportsSentBeforeReturning == 0, "a report left before its journal entry was stored")
        // Nothing went to the modem between the trigger and the dial: the dial is the alarm's first command.
        #expect(emulator.supplementaryServiceRequestCount == requestsBeforeTrigger, "a network-bound request at the trigger")
        let sinceTrigger = emulator.transcript.filter { $0.hasPrefix("→ AT") }.dropFirst(commandsBeforeTrigger)
        #expect(sinceTrigger.first?.hasPrefix("→ ATD+3292000101;") == true, "\(Array(sinceTrigger.prefix(3)))")
    }
}

/// The daemon's own loop (`.dedicated`): a journal entry still being written (an SD card's slow fsync) never holds
/// up the next event. A trigger arriving during the write dials at once; the reports wait for their entries.
@Suite(.serialized) struct JournalOffTheLoopTests {
    @Test func aTriggerDuringAnEarlierEntrysSlowWriteDialsBeforeThatWriteEnds() throws {
        let line = try EmulatedModemLine(emulator: EmulatorSettings())
        defer { line.close() }
        let emulator = line.emulator
        let (runtime, button, link, journal) = slowStorageDevice(on: line, fsync: .milliseconds(1000), eventLoop: .dedicated)
        try runtime.start()
        try line.openAndWaitUntilReady()
        line.advance(.seconds(1))

        button.press(holding: .milliseconds(2500))
        line.advance(.milliseconds(1900))
        // A step that changes what must survive a restart (a test report is queued) just before the trigger: its
        // entry takes a second to write.
        journal.armed.withLock { $0 = true }
        runtime.post(.centre(CentreCommand(.selfTest)))
        #expect(journal.armedWriteBegan.wait(timeout: .now() + 5) == .success, "the test report's entry was never written")
        line.advance(.milliseconds(200))
        #expect(line.waitFor { !emulator.dialledNumbers.isEmpty }, "no dial")
        #expect(line.waitFor { link.received.contains { $0.kind == .alarm } && link.received.contains { $0.kind == .periodicTest } },
                "the reports never left")
        let write = try #require(journal.writes.withLock { $0.first }, "the armed write was not recorded")
        #expect(!write.atdSeenAtStart, "the dial came before the write began: the test proves nothing")
        #expect(write.atdSeenBeforeReturning, "the trigger waited for an earlier entry's fsync before dialling")
        #expect(write.reportsSentBeforeReturning == 0, "the test report left before its entry was stored")
        runtime.flushPersistence()
    }
}

/// Button edges carry the instant the kernel saw them; the runtime runs the hold timer from that instant.
@Suite struct KernelStampedTriggerTests {
    @Test func pressReadLateStillRaisesItsAlarmExactlyTheHoldAfterTheEdge() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        // The kernel saw the press 300 ms before the runtime got it (a busy moment).
        let edge = s.clock.now() - .milliseconds(300)
        s.runtime.post(.button(.pressed), at: edge)
        s.advance(.milliseconds(1699))
        #expect(s.modem.dialledNumbers.isEmpty, "raised before the hold had passed since the edge")
        s.advance(.milliseconds(1))
        #expect(s.modem.dialledNumbers == [Scenario.centre[0]], "not raised 2 s after the kernel's edge")
    }

    @Test func shortPressReadLateStaysShortEvenWhenItsReleaseArrivesLate() throws {
        let s = Scenario()
        try s.start()
        s.advance(.seconds(1))
        let edge = s.clock.now()
        s.runtime.post(.button(.pressed), at: edge)
        s.advance(.milliseconds(1900))
        // Released 1.5 s after the press by the kernel's stamps, delivered 400 ms later (still before the deadline).
        s.runtime.post(.button(.released), at: edge + .milliseconds(1500))
        s.advance(.seconds(3))
        #expect(s.modem.dialledNumbers.isEmpty)
        #expect(s.runtime.status.mode == "idle")
    }
}
