import AlarmCore
import ATModem
import HAL
import Logging
import ModemEmulator
import ModemTestSupport
import Testing

/// The modem's own GNSS read over AT, by the real driver against the emulator over a real pty: the positions
/// the core gets, no fix, the query's place behind call control, the alarm rate, and modem restarts.
@Suite struct ModemGNSSPositionTests {
    static let brussels = EmulatedGNSSPosition(latitude: 50.846_557, longitude: 4.351_697)

    func source(_ rig: ModemRig) throws -> (ModemGNSSPositionSource, Collector<PositionUpdate>) {
        let logger = Logger(label: "gnss-test", factory: { _ in SwiftLogNoOpLogHandler() })
        let source = try ModemGNSSPositionSource(driver: rig.driver, clock: rig.clock, logger: logger)
        let updates = Collector<PositionUpdate>(activity: rig.activity)
        try source.start { updates.append($0) }
        return (source, updates)
    }

    func fixes(_ updates: Collector<PositionUpdate>) -> [Fix] {
        updates.all.compactMap { if case .fix(let fix) = $0 { fix } else { nil } }
    }

    func commandsSent(_ rig: ModemRig) -> [String] {
        rig.emulator.transcript.filter { $0.hasPrefix("→ ") }.map { String($0.dropFirst(2)) }
    }

    @Test func quectelPositionReachesTheCoreInDegreesWithTheReceiversTime() throws {
        let rig = try ModemRig()
        // Built before the modem is up, as the assembly does: the driver switches GNSS on in its start-up
        // although the board's modem URI does not say gnss=on.
        let (source, updates) = try source(rig)
        defer { source.stop() }
        try rig.start()
        #expect(commandsSent(rig).contains("AT+QGPS=1"))
        #expect(rig.emulator.gnssEngineOn)
        rig.emulator.setGNSSPosition(Self.brussels)
        let wallBefore = rig.clock.wallTime()
        rig.advance(.seconds(10))
        #expect(updates.waitUntil { _ in !fixes(updates).isEmpty })
        let fix = try #require(fixes(updates).first)
        // Mode 2 prints five decimals: within 0.5e-5° (under a metre).
        #expect(abs(fix.latitude - Self.brussels.latitude) <= 0.5e-5)
        #expect(abs(fix.longitude - Self.brussels.longitude) <= 0.5e-5)
        #expect(abs(fix.horizontalAccuracy - 0.9 * 19) < 1e-9)
        #expect(fix.source == .gnss)
        #expect(fix.altitude == 30)
        #expect(fix.satellitesUsed == 9)
        // The receiver's own UTC: the emulator's clock when it answered, which was during this advance.
        #expect(fix.fixTime >= wallBefore && fix.fixTime <= rig.clock.wallTime())
        #expect(commandsSent(rig).contains("AT+QGPSLOC=2"))
        // Before the modem was up the core heard "no receiver", once.
        #expect(updates.all.first == .lost(.unavailable))
    }

    @Test func simcomPositionInTheSouthernAndWesternHemispheres() throws {
        let rig = try ModemRig(profile: .simcomSIM7600) { $0.announcesReady = false }
        try rig.start()
        #expect(!rig.emulator.gnssEngineOn)
        // Started on a modem that is already up: GNSS is switched on at once.
        let (source, updates) = try source(rig)
        defer { source.stop() }
        rig.settle()
        #expect(rig.emulator.gnssEngineOn)
        var rio = EmulatedGNSSPosition(latitude: -22.951_916, longitude: -43.210_487)
        rio.speed = 1.4
        rio.course = 212.5
        rig.emulator.setGNSSPosition(rio)
        rig.advance(.seconds(10))
        #expect(updates.waitUntil { _ in !fixes(updates).isEmpty })
        let fix = try #require(fixes(updates).first)
        // ddmm.mmmmmm: a millionth of a minute is under 2e-8°.
        #expect(abs(fix.latitude - rio.latitude) < 1e-7)
        #expect(abs(fix.longitude - rio.longitude) < 1e-7)
        #expect(fix.horizontalAccuracy == 47.5)  // no HDOP in +CGPSINFO: the assumed 2.5 × 19 m
        #expect(abs((fix.speed ?? 0) - 1.4) < 0.06)  // knots with one decimal
        #expect(fix.course == 212.5)
        #expect(commandsSent(rig).contains("AT+CGPSINFO"))
    }

    @Test func noFixSendsNothingUntilAFixAppears() throws {
        let rig = try ModemRig()
        try rig.start()
        let (source, updates) = try source(rig)
        defer { source.stop() }
        rig.advance(.seconds(30))
        #expect(rig.emulator.gnssQueryCount >= 3)
        #expect(fixes(updates).isEmpty)
        #expect(updates.all == [.lost(nil)])  // "no fix" once, like gpsd's no-fix, however often asked
        #expect(rig.emulator.transcript.contains("← +CME ERROR: Not fixed now"))

        rig.emulator.setGNSSPosition(Self.brussels)
        rig.advance(.seconds(10))
        #expect(updates.waitUntil { _ in fixes(updates).count == 1 })

        rig.emulator.dropGNSSFix()
        rig.advance(.seconds(30))
        #expect(updates.all.last == .lost(nil))
        #expect(updates.all.filter { $0 == .lost(nil) }.count == 2)
        #expect(fixes(updates).count == 1)
    }

    @Test func aDialWaitsForNothingButTheQueryOnTheLine() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setGNSSPosition(Self.brussels)
        let (source, updates) = try source(rig)
        defer { source.stop() }
        rig.advance(.seconds(1))
        let before = commandsSent(rig).count
        // A slow modem: the query stays on the line for 800 ms.
        rig.emulator.setResponseDelay(.milliseconds(800))
        source.setRate(.alarm)  // queries at once
        rig.settle()
        #expect(Array(commandsSent(rig).dropFirst(before)) == ["AT+QGPSLOC=2"])
        // Other background work queued meanwhile, then the alarm call.
        rig.driver.engine.submit(ATCommand("AT+CSQ", expecting: ["+CSQ:"], priority: .background))
        rig.driver.engine.submit(ATCommand("AT+CBC", expecting: ["+CBC:"], priority: .background))
        rig.driver.dial(.outgoing(1), number: "+3292000101")
        rig.advance(.milliseconds(700))
        #expect(Array(commandsSent(rig).dropFirst(before)) == ["AT+QGPSLOC=2"], "nothing overtakes the command on the line")
        rig.advance(.milliseconds(100))
        // The query's answer frees the line and the dial goes next, ahead of the queued background work and
        // of the next GNSS query: delayed by the remaining 800 ms of the one command in flight, no more.
        #expect(rig.waitFor { commandsSent(rig).count >= before + 2 })
        #expect(Array(commandsSent(rig).dropFirst(before).prefix(2)) == ["AT+QGPSLOC=2", "ATD+3292000101;"])
        rig.advance(.seconds(5))
        let after = Array(commandsSent(rig).dropFirst(before))
        let dial = try #require(after.firstIndex(of: "ATD+3292000101;"))
        let csq = try #require(after.firstIndex(of: "AT+CSQ"))
        #expect(dial < csq)
        #expect(rig.progress(of: .outgoing(1)).contains(.connected))
        #expect(!fixes(updates).isEmpty)
    }

    @Test func aQueryQueuedBeforeADialStillGoesAfterIt() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setGNSSPosition(Self.brussels)
        let (source, _) = try source(rig)
        defer { source.stop() }
        rig.settle()
        let before = commandsSent(rig).count
        rig.emulator.setResponseDelay(.milliseconds(500))
        // Some other exchange holds the line; the alarm's first query queues behind it, then the alarm call.
        rig.driver.engine.submit(ATCommand("AT+CSQ", expecting: ["+CSQ:"]))
        rig.settle()
        source.setRate(.alarm)
        rig.driver.dial(.outgoing(1), number: "+3292000101")
        rig.advance(.milliseconds(500))
        #expect(rig.waitFor { commandsSent(rig).count >= before + 2 })
        #expect(Array(commandsSent(rig).dropFirst(before).prefix(2)) == ["AT+CSQ", "ATD+3292000101;"])
        rig.advance(.milliseconds(500))
        #expect(rig.waitFor { commandsSent(rig).count >= before + 3 })
        #expect(commandsSent(rig).dropFirst(before).dropFirst(2).first == "AT+QGPSLOC=2")
    }

    @Test func alarmAsksOnceASecondAndIdleOnceInTenSeconds() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setGNSSPosition(Self.brussels)
        let (source, updates) = try source(rig)
        defer { source.stop() }
        rig.settle()
        let first = rig.emulator.gnssQueryCount
        // Half a second past the last idle query, so the alarm's first answer carries a newer receiver time.
        rig.advance(.milliseconds(30_500))
        let idle = rig.emulator.gnssQueryCount - first
        #expect(idle == 3)

        source.setRate(.alarm)
        rig.advance(.seconds(10))
        let alarm = rig.emulator.gnssQueryCount - first - idle
        #expect(alarm == 11)  // one at once, then one a second
        // Each answer carries a newer receiver time, so each is a new fix for the core.
        #expect(fixes(updates).count == 1 + idle + alarm)

        source.setRate(.idle)
        rig.advance(.seconds(30))
        #expect(rig.emulator.gnssQueryCount - first - idle - alarm == 3)
    }

    @Test func aRestartedModemGetsGNSSBackAndQueriesResume() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setGNSSPosition(Self.brussels)
        let (source, updates) = try source(rig)
        defer { source.stop() }
        rig.advance(.seconds(1))
        #expect(rig.emulator.gnssSwitchOnCount == 1)
        source.setRate(.alarm)
        rig.advance(.seconds(2))
        let fixesBefore = fixes(updates).count
        #expect(fixesBefore >= 2)

        // The modem restarts on its own (RDY): every volatile setting, GNSS included, is gone.
        rig.emulator.powerCycle()
        #expect(!rig.emulator.gnssEngineOn)
        rig.advance(.seconds(5))
        #expect(rig.waitFor { rig.driver.phase == .ready })
        #expect(rig.emulator.gnssSwitchOnCount == 2)
        #expect(rig.emulator.gnssEngineOn)
        rig.advance(.seconds(3))
        #expect(fixes(updates).count > fixesBefore + 1)
    }

    @Test func aHungModemNeitherStallsNorCrashesTheSource() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.emulator.setGNSSPosition(Self.brussels)
        let (source, updates) = try source(rig)
        defer { source.stop() }
        source.setRate(.alarm)
        rig.advance(.seconds(2))
        let fixesBefore = fixes(updates).count
        #expect(fixesBefore >= 2)

        rig.emulator.hang()
        rig.advance(.seconds(6))
        #expect(updates.all.contains(.lost(.timeout)))
        // Unanswered queries count toward the driver's hang detection; it re-initialises, then power-cycles
        // the modem through the board's line, and GNSS comes back with it.
        rig.advance(.seconds(40))
        #expect(rig.waitFor { rig.driver.phase == .ready })
        rig.advance(.seconds(3))
        #expect(rig.emulator.gnssEngineOn)
        #expect(fixes(updates).count > fixesBefore)
        #expect(updates.all.last.map { if case .fix = $0 { true } else { false } } == true)
    }

    @Test func quectelThatSaysItsGNSSIsOffIsSwitchedOnAgain() throws {
        let rig = try ModemRig()
        try rig.start()
        let (source, updates) = try source(rig)
        defer { source.stop() }
        rig.settle()
        // Someone (a firmware quirk, a stray AT+QGPS=0) stops the session without a restart.
        rig.driver.engine.submit(ATCommand("AT+QGPS=0"))
        rig.settle()
        #expect(!rig.emulator.gnssEngineOn)
        rig.emulator.setGNSSPosition(Self.brussels)
        rig.advance(.seconds(10))
        #expect(rig.emulator.transcript.contains("← +CME ERROR: Session not active"))
        #expect(rig.waitFor { rig.emulator.gnssEngineOn })
        rig.advance(.seconds(10))
        #expect(updates.waitUntil { _ in !fixes(updates).isEmpty })
    }

    @Test func aModemWithoutALocationQueryIsRefused() throws {
        let rig = try ModemRig(profile: .generic) { $0.announcesReady = false }
        let logger = Logger(label: "gnss-test", factory: { _ in SwiftLogNoOpLogHandler() })
        #expect(throws: HALError.self) {
            try ModemGNSSPositionSource(driver: rig.driver, clock: rig.clock, logger: logger)
        }
    }
}
