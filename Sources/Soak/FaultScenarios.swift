import ATModem
import AlarmCodecs
import AlarmCore
import AlarmRuntime
import HAL
import Logging
import ModemEmulator
import SimBackends
import Synchronization

/// Seeded fault scenarios, in process and on virtual time: the real runtime and AT driver talk AT bytes to the
/// modem emulator through an in-memory wire (no pty, so thousands run in minutes), the report link is the in-process
/// centre, and faults are thrown at them at random moments: calls dropped, busy, unanswered, registration lost,
/// garbage on the line, the modem restarting, the receiver silent or refusing, data held, the position lost, power
/// lost (the runtime dropped and started again on the same journal). After the faults clear, the invariants must hold.
public enum FaultScenarios {
    public struct Outcome: Sendable {
        public var seed: UInt64
        public var alarms: [Int]
        public var faults: [String]
        public var violations: [String]
    }

    /// Bytes in flight between the driver and the emulator, delivered when pumped (deterministic, re-entrancy free).
    final class Wire: Sendable {
        let toModem = Mutex<[UInt8]>([])
        let toDriver = Mutex<[UInt8]>([])
        let ends = Mutex<(driver: ATModemDriver?, emulator: ModemEmulator?)>((nil, nil))

        func pump() {
            for _ in 0..<10_000 {
                let (modemBytes, driverBytes) = (toModem.withLock { b in defer { b = [] }; return b },
                                                 toDriver.withLock { b in defer { b = [] }; return b })
                if modemBytes.isEmpty && driverBytes.isEmpty { return }
                let (driver, emulator) = ends.withLock { $0 }
                if !modemBytes.isEmpty { emulator?.receive(modemBytes) }
                if !driverBytes.isEmpty { driver?.receive(driverBytes) }
            }
        }
    }

    /// One device: runtime, driver and emulator over the wire, on storage that outlives a power loss.
    final class Device: Sendable {
        let runtime: DeviceRuntime
        let driver: ATModemDriver
        let button: SimButton
        let position: SimPositionSource
        let alive: Alive

        final class Alive: Sendable {
            let value = Mutex(true)
        }

        func die() {
            alive.value.withLock { $0 = false }
            runtime.stopForPowerLoss()
            driver.portClosed()
        }

        init(clock: ManualClock, wire: Wire, emulator: ModemEmulator, link: SimReportLink, journal: InMemoryJournal,
             store: InMemoryRecordStore, settings: AlarmSettings) throws {
            let logger = Logger(label: "faults", factory: { _ in SwiftLogNoOpLogHandler() })
            let alive = Alive()
            self.alive = alive
            let driver = ATModemDriver(profile: .quectelEC25, clock: clock, logger: logger, settings: ATModemSettings(),
                                   powerLine: EmulatorPowerLine(emulator: emulator), write: { bytes in
                                       guard alive.value.withLock({ $0 }) else { return }
                                       wire.toModem.withLock { $0 += bytes }
                                   })
            self.driver = driver
            wire.ends.withLock { $0.driver = driver }
            let button = SimButton(clock: clock)
            self.button = button
            let position = SimPositionSource(clock: clock, route: SimRoute(waypoints: [(51.05, 3.72), (51.06, 3.73)]))
            self.position = position
            var backends = Backends(button: button, position: position, network: driver, calls: driver, sms: driver,
                                    reportLink: link, store: store)
            backends.alarmAwareModem = driver
            backends.journal = journal
            let runtime = DeviceRuntime(machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BE-FAULT-1", boardName: "faults"),
                                        clock: clock, backends: backends, silence: .noSpeaker, logger: logger)
            self.runtime = runtime
            try runtime.start()
            driver.portOpened()
        }
    }

    /// Breaks the world on purpose, to prove the invariants catch it (a checker that cannot fail checks nothing).
    public enum Sabotage: Sendable {
        /// The receiver never answers and there is no SMS number: alarms cannot reach the centre.
        case centreUnreachable
        /// No centre number answers: no call ever connects.
        case nobodyAnswers
    }

    public static func run(seed: UInt64, sabotage: Sabotage? = nil) throws -> Outcome {
        var random = SoakRandom(seed: seed)
        let clock = ManualClock()
        let wire = Wire()
        let emulator = ModemEmulator(clock: clock)
        emulator.attach { bytes in wire.toDriver.withLock { $0 += bytes } }
        wire.ends.withLock { $0.emulator = emulator }
        let link = SimReportLink(clock: clock, dataAvailable: { emulator.registration.isRegistered })
        let journal = InMemoryJournal()
        let store = InMemoryRecordStore()
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3292000101", "+3292000102"]
        settings.smsFallbackNumber = "+3292000199"
        settings.callSetupTimeout = .seconds(20)
        switch sabotage {
        case .centreUnreachable?:
            settings.smsFallbackNumber = nil
            link.setBehaviour(.silent)
        case .nobodyAnswers?:
            emulator.queueOutcomes(Array(repeating: .noAnswer, count: 500))
        case nil:
            break
        }
        var device = try Device(clock: clock, wire: wire, emulator: emulator, link: link, journal: journal, store: store, settings: settings)
        var faults: [String] = []
        var violations: [String] = []

        func advance(_ duration: Duration) {
            var left = duration
            while left > .zero {
                let step = min(left, .milliseconds(100))
                clock.advance(by: step)
                wire.pump()
                left -= step
            }
        }

        advance(.seconds(3))
        // One or two alarms, each under a storm of faults.
        let alarmCount = 1 + Int(random.next() % 2)
        var raised: [Int] = []
        for _ in 0..<alarmCount {
            device.button.press(holding: .milliseconds(2500))
            advance(.milliseconds(2600))
            if let number = device.runtime.coreState.activeAlarm?.number { raised.append(number) }
            let faultCount = 2 + Int(random.next() % 6)
            for _ in 0..<faultCount {
                advance(.milliseconds(Int64(random.next() % 8000)))
                switch random.next() % 11 {
                case 0:
                    faults.append("drop calls")
                    emulator.dropCalls()
                case 1:
                    faults.append("next call busy")
                    emulator.queueOutcomes([.busy])
                case 2:
                    faults.append("next call unanswered")
                    emulator.queueOutcomes([.noAnswer])
                case 3:
                    let outage = Int64(5 + random.next() % 60)
                    faults.append("registration lost \(outage) s")
                    emulator.setRegistration(.searching, emergencyCallsPossible: true)
                    advance(.seconds(outage))
                    emulator.setRegistration(.home)
                case 4:
                    faults.append("garbage on the line")
                    var noise: [UInt8] = []
                    for _ in 0..<(16 + random.next() % 200) { noise.append(UInt8(truncatingIfNeeded: random.next())) }
                    emulator.injectGarbage(noise)
                case 5:
                    faults.append("modem restarts")
                    emulator.powerCycle()
                case 6:
                    let outage = Int64(5 + random.next() % 40)
                    faults.append("receiver silent \(outage) s")
                    link.setBehaviour(.silent)
                    advance(.seconds(outage))
                    if sabotage != .centreUnreachable { link.setBehaviour(.acknowledge) }
                case 7:
                    let outage = Int64(2 + random.next() % 20)
                    faults.append("receiver refuses \(outage) s")
                    link.setBehaviour(.reject)
                    advance(.seconds(outage))
                    link.setBehaviour(sabotage == .centreUnreachable ? .silent : .acknowledge)
                case 8:
                    let outage = Int64(5 + random.next() % 60)
                    faults.append("data held \(outage) s")
                    device.runtime.dataPathChanged(.suspended, detail: "fault")
                    advance(.seconds(outage))
                    device.runtime.dataPathChanged(.up, detail: "fault over")
                case 9:
                    faults.append("position lost")
                    device.position.dropFix()
                    advance(.seconds(Int64(random.next() % 30)))
                    device.position.restoreFix()
                default:
                    faults.append("power lost")
                    emulator.powerOff()
                    device.die()
                    advance(.milliseconds(500))
                    emulator.powerOn()
                    device = try Device(clock: clock, wire: wire, emulator: emulator, link: link, journal: journal, store: store,
                                        settings: settings)
                }
            }
            // The faults are over: the alarm must get through and be followed.
            advance(.seconds(90))
            let state = device.runtime.coreState
            if let number = raised.last, state.activeAlarm?.number == number {
                if !(state.call?.connected ?? false) { violations.append("alarm #\(number): no connected call 90 s after the faults") }
                device.runtime.post(.centre(.endAlarm(number)))
                advance(.seconds(2))
            }
        }
        advance(.seconds(60))

        // At the centre (IP or SMS): every alarm, once.
        // Only what the centre acknowledged counts as arrived (a silent receiver "received" nothing).
        let alarmReports = sabotage == .centreUnreachable ? [] : link.received.filter { $0.kind == .alarm }
        let sms = emulator.submittedSMS.compactMap { message -> (Int, Int)? in
            guard message.text.contains("kind=alarm") else { return nil }
            let fields = Dictionary(message.text.split(separator: ";").compactMap { pair -> (String, String)? in
                let kv = pair.split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
            }, uniquingKeysWith: { a, _ in a })
            guard let seq = fields["seq"].flatMap({ Int($0) }) else { return nil }
            return (seq, 0)
        }
        for number in raised {
            let sequences = Set(alarmReports.filter { $0.alarmNumber == number }.map(\.sequence))
            if sequences.isEmpty && sms.isEmpty { violations.append("alarm #\(number) never reached the centre") }
            if sequences.count > 1 { violations.append("alarm #\(number) sent under \(sequences.count) sequences: counted twice") }
        }
        if raised.count != Set(raised).count { violations.append("an alarm number was raised twice: \(raised)") }
        if emulator.dialledNumbers.isEmpty && !raised.isEmpty { violations.append("no call attempt at all") }
        _ = device
        return Outcome(seed: seed, alarms: raised, faults: faults, violations: violations)
    }
}
