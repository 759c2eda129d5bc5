import AlarmCore
import AlarmRuntime
import HAL
import Logging
import Modbus
import Synchronization

/// The HIL test port: the device's state as a Modbus register map (docs/hil.md), and, where the board allows
/// it, a press of the button injected by a rig (and the end of an alarm, as the centre would end it). Reads never change anything; the only writable addresses are
/// the press length and the press coil, and only with `pressInjection`.
public final class TestPort: Sendable {
    struct Injection {
        var pressMilliseconds = TestPortMap.defaultPressMilliseconds
        var pressing = false
        var presses = 0
    }

    /// A class, so that the server's closures share one lock (a local Mutex would be copied into them).
    final class InjectionState: Sendable {
        let state = Mutex(Injection())
        func withLock<T>(_ body: (inout Injection) -> T) -> T { state.withLock { body(&$0) } }
    }

    let server: ModbusServer
    let logger: Logger
    let settings: TestPortSettings

    init(settings: TestPortSettings, runtime: DeviceRuntime, clock: any Clock, logger: Logger,
         vibrator: MirroredVibrator?, amplifier: MirroredOutputLine?, button: MirroredButton?,
         modemRestarts: @escaping @Sendable () -> Int) throws(ModbusError) {
        self.settings = settings
        self.logger = logger
        let injection = InjectionState()
        let positions = settings.positions
        let allowed = settings.pressInjection
        server = try ModbusServer(
            endpoint: settings.endpoint.modbus, layout: TestPortMap.layout(pressInjection: allowed), logger: logger,
            refresh: { image in
                let (press, presses) = injection.withLock { ($0, $0.presses) }
                var indicators = TestPortMap.Indicators()
                indicators.vibrator = vibrator?.isOn ?? false
                indicators.amplifierEnable = amplifier?.isActive ?? false
                indicators.button = press.pressing || (button?.isHeld ?? false)
                indicators.modemRestarts = modemRestarts()
                indicators.injectedPresses = presses
                TestPortMap.fill(&image, status: runtime.status, indicators: indicators, positions: positions)
                image.holdingRegisters[TestPortMap.pressLengthRegister] = press.pressMilliseconds
                image.coils[TestPortMap.pressCoil] = press.pressing
                image.coils[TestPortMap.endAlarmCoil] = false
            },
            onWrite: { writes in
                for write in writes {
                    switch write {
                    case .holdingRegister(TestPortMap.pressLengthRegister, let value):
                        injection.withLock { $0.pressMilliseconds = min(max(value, 1), 60_000) }
                    case .coil(TestPortMap.pressCoil, true):
                        let length = injection.withLock { state -> UInt16? in
                            guard !state.pressing else { return nil }
                            state.pressing = true
                            state.presses += 1
                            return state.pressMilliseconds
                        }
                        guard let length else { continue }
                        logger.notice("test port: button pressed by the rig", metadata: ["length_ms": "\(length)"])
                        runtime.post(.button(.pressed), at: clock.now())
                        _ = clock.schedule(after: .milliseconds(Int(length))) {
                            runtime.post(.button(.released), at: clock.now())
                            injection.withLock { $0.pressing = false }
                        }
                    case .coil(TestPortMap.endAlarmCoil, true):
                        logger.notice("test port: alarm ended by the rig")
                        runtime.post(.centre(.endAlarm), at: clock.now())
                    default:
                        break
                    }
                }
            })
    }

    public var boundPort: UInt16 { server.boundPort }

    func start() {
        server.start()
        var metadata: Logger.Metadata = ["listen": "\(server.endpoint)", "press_injection": "\(settings.pressInjection)"]
        if case .tcp(let host, _) = settings.endpoint {
            metadata["port"] = "\(server.boundPort)"
            if host != "127.0.0.1", host != "::1", host != "localhost" {
                logger.warning("HIL test port reachable from the network (Modbus has no authentication)", metadata: ["host": "\(host)"])
            }
        }
        logger.notice("HIL test port open", metadata: metadata)
    }

    func stop() { server.stop() }
}

extension TestPortEndpoint {
    /// The board's plain endpoint as libmodbus's.
    var modbus: ModbusEndpoint {
        switch self {
        case .tcp(let host, let port): .tcp(host: host, port: port)
        case .rtu(let device, let baud, let unit): .rtu(device: device, baud: baud, unit: unit)
        }
    }
}
