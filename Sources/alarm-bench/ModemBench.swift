import ATModem
import AlarmCore
import AlarmRuntime
import BenchHarness
import Dispatch
import HAL
import Logging
import ModemEmulator
import PosixIO
import SimBackends
import Synchronization

/// The AT driver against the emulator over a real pty, on a manual clock (so no poll or timeout runs
/// between iterations) — the figures are the firmware's and the kernel tty layer's, nothing else.
final class ModemBench: Sendable {
    let clock = ManualClock()
    let emulator: ModemEmulator
    let pty: PTYModemEmulator
    let port: SerialModemPort
    let driver: ATModemDriver
    let marks = Marks()
    /// The call the driver announced last (each ring is a new call; a reject names the one it ends).
    let lastIncoming = LatestCall()

    init(profile: ModemProfile = .quectelEC25) throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let marks = self.marks
        emulator = ModemEmulator(clock: clock) { line in marks.saw(line) }
        pty = try PTYModemEmulator(emulator: emulator)
        port = SerialModemPort(settings: .init(path: pty.devicePath), clock: clock, logger: logger)
        let port = self.port
        driver = ATModemDriver(profile: profile, clock: clock, logger: logger, write: { port.write($0) })
        let driver = self.driver
        try driver.start { status in if status.registration.isRegistered { marks.event("registered") } }
        let lastIncoming = self.lastIncoming
        try driver.start { event in
            if case .incoming(let id, _) = event {
                lastIncoming.id.withLock { $0 = id }
                marks.event("incoming")
            }
        }
        port.connect(bytes: { driver.receive($0) }, opened: { driver.portOpened() }, closed: { driver.portClosed() })
        clock.advance(by: .seconds(1))  // the emulator boots before the port opens
        port.open()
        guard marks.wait(for: "registered") != nil else { throw BenchFailure("modem never ready") }
    }

    deinit {
        port.close()
        pty.close()
    }

    func waitIdle() {
        let done = DispatchSemaphore(value: 0)
        driver.engine.whenIdle { done.signal() }
        _ = done.wait(timeout: .now() + 5)
    }
}

final class LatestCall: Sendable {
    let id = Mutex<CallID?>(nil)
}

/// Timestamps of transcript lines and driver events, so the benchmark can wait for one without sleeping.
final class Marks: Sendable {
    private let state = Mutex<[String: Int64]>([:])
    private let signal = DispatchSemaphore(value: 0)

    func saw(_ line: String) {
        let now = SystemTime.monotonicNanoseconds()
        if line.hasPrefix("→ ATD") { record("ATD", now) }
        if line.hasPrefix("→ ATH") || line.hasPrefix("→ AT+CHUP") || line.hasPrefix("→ AT+CHLD") { record("hangup", now) }
    }

    func event(_ name: String) { record(name, SystemTime.monotonicNanoseconds()) }

    private func record(_ name: String, _ at: Int64) {
        state.withLock { $0[name] = at }
        signal.signal()
    }

    func reset() { state.withLock { $0.removeAll() } }

    /// The time of `name`, waiting up to 5 s for it.
    func wait(for name: String) -> Int64? {
        let deadline = DispatchTime.now() + 5
        while true {
            if let at = state.withLock({ $0[name] }) { return at }
            if signal.wait(timeout: deadline) == .timedOut { return nil }
        }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}

extension AlarmBench {
    func modemCases(_ harness: inout BenchmarkHarness, iterations: Int) throws {
        let bench = try ModemBench()
        try harness.run("modem.dial-to-ATD-on-pty",
                        definition: "in-process part: ATModemDriver.dial called → the emulator has read the whole `ATD…;\\r` line from the pty",
                        iterations: iterations) {
            bench.marks.reset()
            let start = SystemTime.monotonicNanoseconds()
            bench.driver.dial(.outgoing(1), number: "+3292000101")
            guard let end = bench.marks.wait(for: "ATD") else { throw BenchFailure("no ATD") }
            bench.waitIdle()
            bench.driver.perform(.hangUp, on: .outgoing(1))
            _ = bench.marks.wait(for: "hangup")
            bench.waitIdle()
            return end - start
        }

        try harness.run("modem.ring-to-incoming-event",
                        definition: "in-process part: emulator writes RING/+CLIP to the pty → the driver emits the incoming-call event",
                        iterations: min(iterations, 500)) {
            bench.marks.reset()
            let start = SystemTime.monotonicNanoseconds()
            bench.emulator.ring(from: "+3292000101")
            guard let end = bench.marks.wait(for: "incoming") else { throw BenchFailure("no incoming event") }
            bench.waitIdle()
            guard let id = bench.lastIncoming.id.withLock({ $0 }) else { throw BenchFailure("no incoming call id") }
            bench.driver.perform(.reject, on: id)
            _ = bench.marks.wait(for: "hangup")
            bench.waitIdle()
            bench.clock.advance(by: .milliseconds(100))  // one poll confirms the call is gone
            bench.waitIdle()
            return end - start
        }

        try harness.run("modem.startup-sequence",
                        definition: "in-process part: port opened → driver ready (every start-up command answered at once by the emulator)",
                        iterations: min(iterations, 200)) {
            bench.marks.reset()
            let start = SystemTime.monotonicNanoseconds()
            bench.driver.portOpened()
            guard let end = bench.marks.wait(for: "registered") else { throw BenchFailure("not ready") }
            bench.waitIdle()
            return end - start
        }

        // The driver on a real-time clock here (its +CLCC polls run as on the device); the emulator's network on a
        // manual one, so the bench knows the exact moment the far end answers. LiveDriver is in PeerBench.swift.
        let live = try LiveDriver()
        var delays = AnswerDelays(spreadMilliseconds: 100)
        try harness.run("modem.answer-to-connected-event",
                        definition: "in-process part: the emulator's far end answers → the driver emits the connected event (quectel-ec25 profile: "
                            + "+CLCC polled every 100 ms while a call is set up; answers at random phases of that poll)",
                        iterations: min(iterations, 100)) {
            try live.call(answerDelay: delays.next()).detect
        }
    }

    func fullPathCase(_ harness: inout BenchmarkHarness, iterations: Int) throws {
        let bench = try ModemBench()
        let button = SimButton(clock: bench.clock)
        var settings = AlarmSettings()
        settings.centreNumbers = ["+3292000101"]
        let backends = Backends(button: button,
                                position: SimPositionSource(clock: bench.clock, route: SimRoute(waypoints: [(51.05, 3.72)])),
                                network: bench.driver, calls: bench.driver, sms: bench.driver,
                                reportLink: SimReportLink(clock: bench.clock), store: InMemoryRecordStore())
        let runtime = DeviceRuntime(machine: AlarmMachine(settings: settings), identity: .init(deviceID: "BENCH", boardName: "bench"),
                                    clock: bench.clock, backends: backends, silence: .noSpeaker,
                                    logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        try runtime.start()
        try harness.run("runtime.trigger-to-ATD-last-byte",
                        definition: "in-process part: the hold timer fires (trigger decision) → the emulator has read the last byte "
                            + "of `ATD…;\\r` (runtime, core and AT driver in this process on a manual clock, no journal; what a user "
                            + "waits for, with the p99 ≤ 1 ms goal, is daemon.trigger-to-ATD-CR)",
                        iterations: iterations) {
            bench.marks.reset()
            button.press()
            bench.clock.advance(by: .milliseconds(1999))
            let start = SystemTime.monotonicNanoseconds()
            bench.clock.advance(by: .milliseconds(1))
            guard let end = bench.marks.wait(for: "ATD") else { throw BenchFailure("no ATD") }
            button.release()
            bench.waitIdle()
            runtime.post(.centre(.endAlarm))
            _ = bench.marks.wait(for: "hangup")
            bench.waitIdle()
            return end - start
        }
        // The physical limit: the bytes the driver wrote from the trigger to the ATD line's last byte (the ATD line
        // alone: nothing else was queued), priced at the UART's baud rate.
        if let line = bench.emulator.transcript.last(where: { $0.hasPrefix("→ ATD") }) {
            let limit = BenchmarkHarness.Limit.uart(bytes: line.dropFirst(2).utf8.count + 1, "`\(line.dropFirst(2))\\r` to the modem")
            harness.setLimit(limit, for: "runtime.trigger-to-ATD-last-byte")
            harness.setLimit(limit, for: "modem.dial-to-ATD-on-pty")
        }
    }
}
