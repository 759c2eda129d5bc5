import AlarmRuntime
import AlarmSimulation
import Glibc
import Modbus
import PosixIO

/// What one scenario did.
public struct ScenarioResult: Sendable {
    public var name: String
    public var file: String
    public var passed: Bool
    /// "step 4 (waitFor callState == 2 within 30s): …"
    public var failure: String?
    public var durationMilliseconds: Double
    public var intervals: [(name: String, milliseconds: Double)]
}

/// Runs scenario files against a device's test port and a rig's I/O module, in real time: a rig observes a
/// running device from outside. It polls the test port every 50 ms while it waits (the rig polls; the device
/// never does) and reconnects when the device comes back after a power cut.
public final class ScenarioRunner {
    let rig: RigFile
    let print: (String) -> Void
    var device: ModbusClient?
    var io: ModbusClient?
    var start: Int64 = 0

    public init(rig: RigFile, print: @escaping (String) -> Void) {
        self.rig = rig
        self.print = print
    }

    static let pollMilliseconds: Int32 = 50

    func now() -> Int64 { SystemTime.monotonicNanoseconds() }
    func elapsed(_ since: Int64) -> Double { Double(now() - since) / 1e6 }

    func log(_ text: String) {
        let stamp = RigReports.number(elapsed(start) / 1000)
        print("  +" + String(repeating: " ", count: max(0, 8 - stamp.count)) + stamp + " s  " + text)
    }

    /// One read of the whole map; nil while the device does not answer (it reconnects on the next call).
    func snapshot() -> MapSnapshot? {
        do throws(ModbusError) {
            if device == nil {
                device = try ModbusClient.tcp(host: rig.testPort.host, port: rig.testPort.port, timeout: .milliseconds(500))
            }
            guard let device else { return nil }
            let input = try device.readInputRegisters(0, count: TestPortMap.Input.count)
            let discrete = try device.readDiscreteInputs(0, count: TestPortMap.Discrete.count)
            return MapSnapshot(input: input, discrete: discrete)
        } catch {
            device = nil
            return nil
        }
    }

    func ioModule() throws(ModbusError) -> ModbusClient {
        if let io { return io }
        guard let endpoint = rig.io else {
            throw ModbusError("rig \(rig.file)", kind: .other, message: "the rig file has no io module (this step needs one)")
        }
        let client: ModbusClient
        switch endpoint {
        case .tcp(let host, let port): client = try ModbusClient.tcp(host: host, port: port, unit: rig.ioUnit)
        case .rtu(let path, let baud, let unit): client = try ModbusClient.rtu(device: path, baud: baud, unit: unit)
        }
        io = client
        return client
    }

    func relay(_ relay: RigFile.Relay, _ on: Bool) throws(ModbusError) {
        guard let coil = rig.relays[relay] else {
            throw ModbusError("rig \(rig.file)", kind: .other, message: "no \(relay.rawValue) relay in the rig file")
        }
        do throws(ModbusError) {
            try ioModule().writeCoil(coil, on)
        } catch {
            io = nil  // one reconnect: an I/O module may close idle connections
            try ioModule().writeCoil(coil, on)
        }
    }

    static func sleep(milliseconds: Int64) {
        var left = milliseconds
        while left > 0 {
            let chunk = min(left, 1000)
            _ = poll(nil, 0, Int32(chunk))
            left -= chunk
        }
    }

    struct StepFailure: Error { var message: String }

    public func run(_ scenario: Scenario) -> ScenarioResult {
        start = now()
        print("scenario \(scenario.name) (\(scenario.file))")
        var marks: [String: Int64] = [:]
        var intervals: [(String, Double)] = []
        var failure: String?
        // Counters on a bench device are not zero: conditions "increasedBy" compare with this first read.
        var baseline: MapSnapshot?
        let deadline = now() + 30_000_000_000
        while baseline == nil, now() < deadline {
            baseline = snapshot()
            if baseline == nil { Self.sleep(milliseconds: Int64(Self.pollMilliseconds)) }
        }
        if let baseline {
            for (index, entry) in scenario.steps.enumerated() {
                do throws(StepFailure) {
                    let at = try perform(entry.step, baseline: baseline, marks: marks, intervals: &intervals)
                    if let mark = entry.mark { marks[mark] = at }
                } catch {
                    failure = "step \(index + 1) (\(describe(entry.step))): \(error.message)"
                    log("FAILED: \(failure!)")
                    break
                }
            }
        } else {
            failure = "the device's test port \(rig.testPort.host):\(rig.testPort.port) did not answer within 30 s"
            log("FAILED: \(failure!)")
        }
        // Never leave a bench with the button held or the power cut.
        for relay in RigFile.Relay.allCases where rig.relays[relay] != nil && rig.io != nil {
            try? self.relay(relay, false)
        }
        let result = ScenarioResult(name: scenario.name, file: scenario.file, passed: failure == nil, failure: failure,
                                    durationMilliseconds: elapsed(start), intervals: intervals)
        print(result.passed ? "  passed in \(Int(result.durationMilliseconds)) ms" : "  FAILED")
        return result
    }

    func describe(_ step: Step) -> String {
        switch step {
        case .waitFor(let register, let condition, let within): "waitFor \(register) \(condition) within \(DurationText.format(within))"
        case .check(let register, let condition): "assert \(register) \(condition)"
        case .press(let length, let via): "press \(DurationText.format(length)) via \(via.rawValue)"
        case .cutPower: "cutPower"
        case .restorePower: "restorePower"
        case .modemFault(let on): "modemFault \(on ? "on" : "off")"
        case .endAlarm: "endAlarm"
        case .wait(let duration): "wait \(DurationText.format(duration))"
        case .measure(let name, let from, let to): "measure \(name) from \(from) to \(to)"
        }
    }

    /// Returns the instant the step's mark stands for.
    func perform(_ step: Step, baseline: MapSnapshot, marks: [String: Int64],
                 intervals: inout [(String, Double)]) throws(StepFailure) -> Int64 {
        switch step {
        case .waitFor(let register, let condition, let within):
            let begin = now()
            let end = begin + within.milliseconds * 1_000_000
            var last: Int64?
            while true {
                if let map = snapshot() {
                    let value = register.value(in: map)
                    last = value
                    if condition.holds(value, baseline: register.value(in: baseline)) {
                        let at = now()
                        log("\(register) = \(value) (\(condition)) after \(Int(Double(at - begin) / 1e6)) ms")
                        return at
                    }
                }
                guard now() < end else {
                    throw StepFailure(message: last.map { "still \($0) after \(DurationText.format(within))" }
                                      ?? "the device did not answer for \(DurationText.format(within))")
                }
                Self.sleep(milliseconds: Int64(Self.pollMilliseconds))
            }
        case .check(let register, let condition):
            guard let map = snapshot() else { throw StepFailure(message: "the device did not answer") }
            let value = register.value(in: map)
            guard condition.holds(value, baseline: register.value(in: baseline)) else {
                throw StepFailure(message: "is \(value) (baseline \(register.value(in: baseline)))")
            }
            log("\(register) = \(value) (\(condition))")
            return now()
        case .press(let length, let via):
            let at = now()
            switch via {
            case .testPort:
                guard snapshot() != nil, let device else { throw StepFailure(message: "the device did not answer") }
                do throws(ModbusError) {
                    try device.writeRegister(TestPortMap.pressLengthRegister, UInt16(clamping: length.milliseconds))
                    try device.writeCoil(TestPortMap.pressCoil, true)
                } catch {
                    throw StepFailure(message: "\(error)")
                }
                log("button pressed for \(DurationText.format(length)) through the test port")
            case .relay:
                do throws(ModbusError) {
                    try relay(.button, true)
                    log("button relay closed")
                    Self.sleep(milliseconds: length.milliseconds)
                    try relay(.button, false)
                    log("button relay opened after \(DurationText.format(length))")
                } catch {
                    throw StepFailure(message: "\(error)")
                }
            }
            return at
        case .cutPower, .restorePower, .modemFault:
            do throws(ModbusError) {
                switch step {
                case .cutPower:
                    try relay(.powerCut, true)
                    device = nil
                    log("device power cut")
                case .restorePower:
                    try relay(.powerCut, false)
                    log("device power restored")
                case .modemFault(let on):
                    try relay(.modemFault, on)
                    log(on ? "modem supply cut" : "modem supply restored")
                default: break
                }
            } catch {
                throw StepFailure(message: "\(error)")
            }
            return now()
        case .endAlarm:
            guard snapshot() != nil, let device else { throw StepFailure(message: "the device did not answer") }
            do throws(ModbusError) {
                try device.writeCoil(TestPortMap.endAlarmCoil, true)
            } catch {
                throw StepFailure(message: "\(error)")
            }
            log("alarm ended through the test port")
            return now()
        case .wait(let duration):
            Self.sleep(milliseconds: duration.milliseconds)
            return now()
        case .measure(let name, let from, let to):
            guard let a = marks[from], let b = marks[to] else {
                throw StepFailure(message: "mark \(marks[from] == nil ? from : to) was never reached")
            }
            let milliseconds = Double(b - a) / 1e6
            intervals.append((name, milliseconds))
            log("\(name): \(Int(milliseconds)) ms")
            return now()
        }
    }
}
