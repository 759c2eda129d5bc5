import AlarmCore
import AlarmRuntime
import Glibc
import HAL
import LinuxBackends
import Logging
import ModemTestSupport
import PosixIO
import SimBackends
import Synchronization
import Testing

@Suite struct FileJournalTests {
    func directory() throws -> StorageDirectory {
        let path = "/tmp/alarm-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        return try StorageDirectory(path: path)
    }

    @Test func newestIntactEntryWinsAndCompactionKeepsOne() throws {
        let dir = try directory()
        let journal = FileJournal(directory: dir)
        #expect(try journal.latest().entry == nil)
        for n in 1...5 { try journal.append(Array("entry \(n)".utf8)) }
        #expect(try journal.latest().entry == Array("entry 5".utf8))
        try journal.reset(to: Array("compacted".utf8))
        #expect(try journal.latest() == (Array("compacted".utf8), []))
        #expect(journal.size == 12 + 9)
        #expect(FileJournal(directory: dir).size == journal.size, "a restarted daemon knows the size")
    }

    @Test func tornTailIsDroppedWithOneLine() throws {
        let dir = try directory()
        let journal = FileJournal(directory: dir)
        try journal.append(Array("first".utf8))
        try journal.append(Array("second, cut short by a power loss".utf8))
        var bytes = try #require(try dir.read("journal"))
        bytes.removeLast(7)
        try dir.replaceAtomically("journal", with: bytes)
        let (entry, problems) = try journal.latest()
        #expect(entry == Array("first".utf8))
        #expect(problems.count == 1 && problems[0].contains("torn"))
    }

    @Test func corruptEntryInTheMiddleCostsOnlyThatEntry() throws {
        let dir = try directory()
        let journal = FileJournal(directory: dir)
        try journal.append(Array("one".utf8))
        try journal.append(Array("two".utf8))
        try journal.append(Array("three".utf8))
        var bytes = try #require(try dir.read("journal"))
        bytes[15 + 12 + 1] ^= 0x40  // a bit flip inside "two"
        try dir.replaceAtomically("journal", with: bytes)
        let (entry, problems) = try journal.latest()
        #expect(entry == Array("three".utf8))
        #expect(problems.contains { $0.contains("corrupt") })
        // Garbage before everything (a card that returned junk) is skipped too.
        try dir.replaceAtomically("journal", with: Array("zzzz".utf8) + bytes)
        #expect(try journal.latest().entry == Array("three".utf8))
    }
}

/// A device that is "killed" (its runtime dropped) and started again over the same journal and clock.
@Suite struct ResumeTests {
    final class World: Sendable {
        let clock = ManualClock()
        let journal = InMemoryJournal()
        let modem: SimModem
        let link: SimReportLink
        let button: SimButton
        let runtime: DeviceRuntime

        init(clock: ManualClock, journal: InMemoryJournal, store: InMemoryRecordStore = InMemoryRecordStore()) throws {
            modem = SimModem(clock: clock)
            link = SimReportLink(clock: clock)
            button = SimButton(clock: clock)
            var settings = AlarmSettings()
            settings.centreNumbers = ["+3292000101", "+3292000102"]
            settings.smsFallbackNumber = "+3292000199"
            var backends = Backends(button: button, position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                    network: modem, calls: modem, sms: modem, reportLink: link, store: store)
            backends.journal = journal
            runtime = DeviceRuntime(machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BE-J-1", boardName: "j"),
                                    clock: clock, backends: backends, silence: .noSpeaker,
                                    logger: Logger(label: "j", factory: { _ in SwiftLogNoOpLogHandler() }))
            try runtime.start()
        }
    }

    @Test func anAlarmSurvivesARestartWithItsSequencesAndRedialsAtOnce() throws {
        let clock = ManualClock()
        let journal = InMemoryJournal()
        // The record store survives too: its last-fix record makes the restarted runtime post an event before it
        // reads the journal, which once compacted the alarm away.
        let store = InMemoryRecordStore()
        let first = try World(clock: clock, journal: journal, store: store)
        first.link.setBehaviour(.silent)  // nothing acknowledged before the "crash"
        clock.advance(by: .seconds(2))
        first.button.press(holding: .milliseconds(2500))
        clock.advance(by: .seconds(3))
        let before = first.runtime.coreState
        let alarm = try #require(before.activeAlarm)
        let pending = Set(before.outbox.keys)
        #expect(!pending.isEmpty)
        #expect(journal.count >= 1)

        // SIGKILL: the process is gone; a new one starts on the same storage.
        clock.advance(by: .seconds(5))
        first.runtime.flushPersistence()  // what the persist queue had written before the "crash"
        #expect((try store.load("last-fix")) != nil)
        let second = try World(clock: clock, journal: journal, store: store)
        let after = second.runtime.coreState
        #expect(after.activeAlarm?.number == alarm.number)
        #expect(after.alarmsRaised == before.alarmsRaised)
        #expect(second.modem.dialledNumbers.count == 1, "a call attempt at once after the restart")
        #expect(Set(second.link.received.map(\.sequence)) == pending, "every unacknowledged report again, same sequences")
        #expect(second.runtime.coreState.nextSequence == before.nextSequence, "no sequence reused")
        // Tracking goes on: the next update comes within the interval and gets a new sequence.
        clock.advance(by: .seconds(11))
        #expect(second.link.received.contains { $0.kind == .positionUpdate && !pending.contains($0.sequence) })
    }

    /// Wraps the calls backend and notes whether a dial ever came before `start` — the AT driver answers such a
    /// dial at once with "not ready", which went nowhere because no handler was registered yet, and the resumed
    /// alarm then waited in "dialling" for ever (the HIL power-cut scenario found it).
    final class StartOrderCalls: VoiceCalls {
        let inner: any VoiceCalls
        let started = Mutex(false)
        let dialsBeforeStart = Mutex(0)
        init(_ inner: any VoiceCalls) { self.inner = inner }
        func start(_ events: @escaping @Sendable (CallEvent) -> Void) throws(HALError) {
            try inner.start(events)
            started.withLock { $0 = true }
        }
        func dial(_ id: CallID, number: String) {
            if !started.withLock({ $0 }) { dialsBeforeStart.withLock { $0 += 1 } }
            inner.dial(id, number: number)
        }
        func perform(_ action: CallAction, on id: CallID) { inner.perform(action, on: id) }
    }

    @Test func aResumedAlarmDialsOnlyOnceTheCallsBackendListens() throws {
        let clock = ManualClock()
        let journal = InMemoryJournal()
        let first = try World(clock: clock, journal: journal)
        clock.advance(by: .seconds(1))
        first.button.press(holding: .milliseconds(2500))
        clock.advance(by: .seconds(3))
        #expect(first.runtime.coreState.activeAlarm != nil)

        let modem = SimModem(clock: clock)
        let calls = StartOrderCalls(modem)
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3292000101"]
        var backends = Backends(button: SimButton(clock: clock), position: SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                network: modem, calls: calls, sms: modem, reportLink: SimReportLink(clock: clock), store: InMemoryRecordStore())
        backends.journal = journal
        let second = DeviceRuntime(machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BE-J-1", boardName: "j"),
                                   clock: clock, backends: backends, silence: .noSpeaker,
                                   logger: Logger(label: "j", factory: { _ in SwiftLogNoOpLogHandler() }))
        try second.start()
        #expect(second.coreState.activeAlarm != nil, "resumed")
        #expect(modem.dialledNumbers.count == 1, "and dialled at once")
        #expect(calls.dialsBeforeStart.withLock { $0 } == 0, "but only once the calls backend listened")
    }

    @Test func storageFullIsDeviceTroubleAndTheAlarmGoesOn() throws {
        let clock = ManualClock()
        let journal = InMemoryJournal()
        journal.failing = true
        let world = try World(clock: clock, journal: journal)
        clock.advance(by: .seconds(2))
        world.button.press(holding: .milliseconds(2500))
        clock.advance(by: .seconds(3))
        #expect(world.modem.dialledNumbers.count == 1)
        #expect(world.link.received.contains { $0.kind == .alarm })
        #expect(world.link.received.contains { $0.kind == .storageTrouble })
        journal.failing = false
        clock.advance(by: .seconds(11))
        #expect(world.link.received.contains { $0.kind == .storageRestored })
    }

    @Test func afterTheAlarmEndsTheJournalShrinksToOneEntry() throws {
        let clock = ManualClock()
        let journal = InMemoryJournal()
        let world = try World(clock: clock, journal: journal)
        clock.advance(by: .seconds(2))
        world.button.press(holding: .milliseconds(2500))
        clock.advance(by: .seconds(30))
        #expect(journal.count > 1)
        world.runtime.post(.centre(.endAlarm))
        clock.advance(by: .seconds(30))
        #expect(world.runtime.coreState.outbox.isEmpty)
        #expect(journal.count == 1)
    }
}
