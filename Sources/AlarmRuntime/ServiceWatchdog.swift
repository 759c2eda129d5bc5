import HAL
import Logging
import PosixIO
import Synchronization

/// Keeps the service manager's watchdog (`WatchdogSec=`) fed for as long as the runtime's event loop turns.
///
/// The keep-alive is sent *from* the loop (`DeviceRuntime.perform`), and the next one is scheduled only after it
/// was sent: a loop stuck in an effect (a backend that blocks, a deadlock) sends nothing more and systemd
/// restarts the daemon, which resumes the alarm from its journal. A timer thread pinging by itself would keep
/// a hung daemon alive forever.
public final class ServiceWatchdog: Sendable {
    private let runtime: DeviceRuntime
    private let clock: any Clock
    private let interval: Duration
    private let ping: @Sendable () -> Void
    private let state = Mutex<(running: Bool, timer: (any Cancellable)?)>((false, nil))

    /// `ping` sends the keep-alive (`WATCHDOG=1`); it runs on the runtime's loop every `interval` while the loop
    /// keeps up.
    public init(runtime: DeviceRuntime, clock: any Clock, interval: Duration, ping: @escaping @Sendable () -> Void) {
        self.runtime = runtime
        self.clock = clock
        self.interval = interval
        self.ping = ping
    }

    /// Pings once at once (through the loop), then every interval.
    public func start() {
        let wasRunning = state.withLock { state in
            defer { state.running = true }
            return state.running
        }
        guard !wasRunning else { return }
        runtime.perform { [self] in beat() }
    }

    public func stop() {
        let timer = state.withLock { state in
            defer { state = (false, nil) }
            return state.timer
        }
        timer?.cancel()
    }

    /// On the loop: ping, then arm the next turn. The timer only *asks* the loop; if the loop never gets to the
    /// request, nothing is armed again.
    private func beat() {
        guard state.withLock({ $0.running }) else { return }
        ping()
        let timer = clock.schedule(after: interval) { [self] in runtime.perform { [self] in beat() } }
        let stale = state.withLock { state -> Bool in
            guard state.running else { return true }
            state.timer = timer
            return false
        }
        if stale { timer.cancel() }
    }
}

/// The daemon's side of the service manager: readiness once the device runs, the watchdog fed from the runtime's
/// loop, and notice of a deliberate stop. Without `$NOTIFY_SOCKET` (started by hand, in a test, by alarm-sim)
/// every call is a no-op.
public final class ServiceNotifications: Sendable {
    private let notifier: SystemdNotifier?
    private let watchdogInterval: Duration?
    private let logger: Logger
    private let watchdog = Mutex<ServiceWatchdog?>(nil)

    public init(notifier: SystemdNotifier?, watchdogInterval: Duration?, logger: Logger) {
        self.notifier = notifier
        self.watchdogInterval = notifier == nil ? nil : watchdogInterval
        self.logger = logger
    }

    /// From `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`.
    public static func fromEnvironment(logger: Logger) -> ServiceNotifications {
        ServiceNotifications(notifier: SystemdNotifier.fromEnvironment(),
                             watchdogInterval: SystemdNotifier.watchdogPingIntervalFromEnvironment(), logger: logger)
    }

    /// The device has started: `READY=1`, then keep-alives from the runtime's loop if the unit has a watchdog.
    public func ready(runtime: DeviceRuntime, clock: any Clock, status: String) {
        guard let notifier else { return }
        send(.ready, .status(status))
        guard let interval = watchdogInterval else { return }
        let logger = self.logger
        let dog = ServiceWatchdog(runtime: runtime, clock: clock, interval: interval) {
            do {
                try notifier.send(.watchdog)
            } catch {
                logger.warning("watchdog keep-alive not delivered", metadata: ["error": "\(error)", "socket": "\(notifier.socket)"])
            }
        }
        watchdog.withLock { $0 = dog }
        dog.start()
        logger.info("service watchdog fed from the event loop", metadata: ["every": "\(interval)"])
    }

    /// Stopping on purpose: no more keep-alives, and the manager knows a slow stop is not a hang.
    public func stopping() {
        watchdog.withLock { $0 }?.stop()
        send(.stopping)
    }

    private func send(_ messages: SystemdNotifier.Message...) {
        guard let notifier else { return }
        do {
            try notifier.send(messages)
        } catch {
            logger.warning("service manager notification not delivered", metadata: ["error": "\(error)", "socket": "\(notifier.socket)"])
        }
    }
}
