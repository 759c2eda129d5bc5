import AlarmCore
import AlarmRuntime
import Modbus

/// The HIL test port's register map, version 1 (docs/hil.md is its contract with rigs; change both together and
/// bump the version). 32-bit values take two registers, high word first. "Unknown" is 0xFFFF (0xFFFFFFFF).
public enum TestPortMap {
    public static let version: UInt16 = 1
    public static let unknown: UInt16 = 0xFFFF

    /// Input registers (function 04).
    public enum Input: Int, CaseIterable, Sendable {
        case mapVersion = 0
        /// 0 idle, 1 alarm not yet delivered, 2 alarm delivered, 3 after the alarm (callback window).
        case alarmState = 1
        case alarmNumber = 2
        /// 0 no call, 1 call being set up or ringing, 2 connected.
        case callState = 3
        /// 0 not registered, 1 searching, 2 denied, 3 home, 4 roaming, 5 unknown.
        case registration = 4
        /// 1 when only emergency calls are possible.
        case emergencyOnly = 5
        /// +CSQ rssi 0…31, 99 unknown.
        case signal = 6
        /// 0 no fix, 2 2D, 3 3D.
        case fixMode = 7
        case latitude = 8       // int32, degrees × 10⁷, registers 8–9
        case longitude = 10     // int32, degrees × 10⁷, registers 10–11
        /// Seconds since the last fix was received (saturates at 65534).
        case fixAge = 12
        /// Horizontal accuracy in decimetres (saturates at 65534).
        case fixAccuracy = 13
        case batteryPercent = 14
        /// 0 on battery, 1 charging.
        case charging = 15
        /// 0 down, 1 up, 2 suspended during a call, 3 unknown.
        case dataPath = 16
        case pendingReports = 17
        case alarmsRaised = 18          // uint32, 18–19
        case reportsSent = 20           // uint32, 20–21
        case reportsAcknowledged = 22   // uint32, 22–23
        case callsPlaced = 24           // uint32, 24–25
        case callsConnected = 26        // uint32, 26–27
        case modemRestarts = 28         // uint32, 28–29
        case uptimeSeconds = 30         // uint32, 30–31
        /// 0 not tested, 1 plausible, 2 dead, 3 clipped.
        case microphone = 32
        case injectedPresses = 33

        public static let count = 34
    }

    /// Discrete inputs (function 02): the indicator outputs and the button, as the device drives and sees them.
    public enum Discrete: Int, CaseIterable, Sendable {
        case vibrator = 0
        case amplifierEnable = 1
        case button = 2
        public static let count = 3
    }

    /// Holding register 0: the injected press's length in milliseconds (1…60000; default 2500).
    public static let pressLengthRegister = 0
    /// Coil 0: write 1 to press the button for the held length; reads 1 while the press lasts.
    public static let pressCoil = 0
    /// Coil 1: write 1 to end the current alarm as the centre would (a rig's clean-up between scenarios; reads 0).
    public static let endAlarmCoil = 1
    public static let defaultPressMilliseconds: UInt16 = 2500

    public static func layout(pressInjection: Bool) -> ModbusLayout {
        ModbusLayout(coils: 2, discreteInputs: Discrete.count, holdingRegisters: 1, inputRegisters: Input.count,
                     writableCoils: pressInjection ? 0..<2 : 0..<0,
                     writableHoldingRegisters: pressInjection ? 0..<1 : 0..<0)
    }

    /// What the device shows a rig at one moment.
    public struct Indicators: Sendable, Hashable {
        public var vibrator = false
        public var amplifierEnable = false
        public var button = false
        public var modemRestarts = 0
        public var injectedPresses = 0
        public init() {}
    }

    public static func fill(_ image: inout ModbusImage, status: RuntimeStatus, indicators: Indicators, positions: Bool) {
        func set(_ register: Input, _ value: UInt16) { image.inputRegisters[register.rawValue] = value }
        func set32(_ register: Input, _ value: Int) { image.setUInt32(UInt32(clamping: max(value, 0)), at: register.rawValue) }
        func saturated(_ value: Int64) -> UInt16 { UInt16(clamping: min(max(value, 0), 65534)) }

        set(.mapVersion, version)
        switch status.mode {
        case "alarm": set(.alarmState, status.delivered == true ? 2 : 1)
        case "after-alarm": set(.alarmState, 3)
        default: set(.alarmState, 0)
        }
        set(.alarmNumber, UInt16(clamping: status.alarmNumber ?? 0))
        set(.callState, status.call.map { $0.connected ? 2 : 1 } ?? 0)
        let registrations = ["not-registered", "searching", "denied", "home", "roaming"]
        set(.registration, UInt16(registrations.firstIndex(of: status.registration) ?? 5))
        set(.emergencyOnly, status.emergencyCallsOnly ? 1 : 0)
        set(.signal, status.signal.map { UInt16(clamping: $0) } ?? 99)
        if let fix = status.lastFix {
            set(.fixMode, fix.altitude == nil ? 2 : 3)
            if positions {
                image.setInt32(Int32((fix.latitude * 1e7).rounded()), at: Input.latitude.rawValue)
                image.setInt32(Int32((fix.longitude * 1e7).rounded()), at: Input.longitude.rawValue)
            } else {
                image.setInt32(0, at: Input.latitude.rawValue)
                image.setInt32(0, at: Input.longitude.rawValue)
            }
            set(.fixAge, saturated(fix.ageMilliseconds / 1000))
            set(.fixAccuracy, fix.accuracy < 0 ? unknown : saturated(Int64((fix.accuracy * 10).rounded())))
        } else {
            set(.fixMode, 0)
            image.setInt32(0, at: Input.latitude.rawValue)
            image.setInt32(0, at: Input.longitude.rawValue)
            set(.fixAge, unknown)
            set(.fixAccuracy, unknown)
        }
        set(.batteryPercent, status.batteryPercent.map { UInt16(clamping: $0) } ?? unknown)
        set(.charging, status.charging.map { $0 ? 1 : 0 } ?? unknown)
        let path = status.dataPath
        set(.dataPath, path.hasPrefix("up") ? 1 : path.hasPrefix("suspended") ? 2 : path.hasPrefix("down") ? 0 : 3)
        set(.pendingReports, UInt16(clamping: status.pendingReports))
        set32(.alarmsRaised, status.alarmsRaised)
        // Frames actually written to the link, not reports queued behind an unanswered one.
        set32(.reportsSent, status.reportsTransmitted)
        set32(.reportsAcknowledged, status.counters.reportsAcknowledged)
        set32(.callsPlaced, status.counters.callsPlaced)
        set32(.callsConnected, status.counters.callsConnected)
        set32(.modemRestarts, indicators.modemRestarts)
        set32(.uptimeSeconds, Int(status.uptimeMilliseconds / 1000))
        let microphone = status.microphone ?? ""
        set(.microphone, microphone.hasPrefix("plausible") ? 1 : microphone.hasPrefix("dead") ? 2 : microphone.hasPrefix("clipped") ? 3 : 0)
        set(.injectedPresses, UInt16(truncatingIfNeeded: indicators.injectedPresses))

        image.discreteInputs[Discrete.vibrator.rawValue] = indicators.vibrator
        image.discreteInputs[Discrete.amplifierEnable.rawValue] = indicators.amplifierEnable
        image.discreteInputs[Discrete.button.rawValue] = indicators.button
    }
}
