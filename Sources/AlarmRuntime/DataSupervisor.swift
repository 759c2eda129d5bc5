import AlarmCore
import HAL
import Logging
import PosixIO
import Synchronization

/// Which calls leave packet data running. LTE with IMS (VoLTE) always does; 3G usually does (multi-RAB);
/// 2G does only with DTM, which few networks offer.
public enum DataDuringCalls: String, Sendable, CaseIterable {
    /// Only calls on LTE or NR: anything else holds data for the call.
    case lte
    /// LTE, NR and UMTS calls keep data; a GSM call holds it.
    case lteAndUMTS = "lte-umts"
    /// The network keeps data during every call (DTM on 2G).
    case all
}

/// Judges the IP path to the centre from what the modem says (context, technology, call) and what the
/// kernel says about the modem's interface, and tells the core and the report link when the verdict changes.
public final class DataSupervisor: Sendable {
    struct State {
        var modem = ModemDataStatus(contextActive: false)
        var interface: InterfaceState?
        var verdict: DataPath?
        /// The interface could not be watched: judge by the modem's context alone rather than call IP dead.
        var interfaceUnwatched = false
    }

    let interfaceName: String?
    let dataDuringCalls: DataDuringCalls
    let logger: Logger
    let verdictSink: @Sendable (DataPath, String) -> Void
    let interfaceLost: @Sendable () -> Void
    let state = Mutex(State())
    let watcher = Mutex<InterfaceWatcher?>(nil)

    public init(interface: String?, dataDuringCalls: DataDuringCalls, logger: Logger,
         verdict: @escaping @Sendable (DataPath, String) -> Void, interfaceLost: @escaping @Sendable () -> Void) {
        interfaceName = interface
        self.dataDuringCalls = dataDuringCalls
        self.logger = logger
        verdictSink = verdict
        self.interfaceLost = interfaceLost
    }

    public func start(modem: any DataConnectionMonitor) {
        do {
            try modem.start { [self] status in modemChanged(status) }
        } catch {
            logger.error("the modem does not report its data connection; the data path is judged by the interface only",
                         metadata: ["error": "\(error)"])
        }
        guard let name = interfaceName else { return }
        let watcher = InterfaceWatcher(interface: name) { [self] interface in interfaceChanged(interface) }
        do {
            try watcher.start()
            self.watcher.withLock { $0 = watcher }
        } catch {
            logger.error("cannot watch the modem's network interface; judging the data path by the modem alone",
                         metadata: ["interface": "\(name)", "error": "\(error)"])
            state.withLock { $0.interfaceUnwatched = true }
            judge()
        }
    }

    public func stop() {
        let watcher = self.watcher.withLock { w -> InterfaceWatcher? in
            defer { w = nil }
            return w
        }
        watcher?.stop()
    }

    func modemChanged(_ status: ModemDataStatus) {
        state.withLock { $0.modem = status }
        judge()
    }

    func interfaceChanged(_ interface: InterfaceState) {
        let wasUsable = state.withLock { s -> Bool in
            defer { s.interface = interface }
            return s.interface?.usable ?? false
        }
        // The link hears it before any verdict: nothing more may be written into a socket on a dead interface.
        if wasUsable && !interface.usable { interfaceLost() }
        judge()
    }

    func judge() {
        let decided = state.withLock { s -> (DataPath, String)? in
            let (path, detail) = Self.verdict(modem: s.modem, interface: s.interface,
                                              name: s.interfaceUnwatched ? nil : interfaceName,
                                              dataDuringCalls: dataDuringCalls)
            guard path != s.verdict else { return nil }
            s.verdict = path
            return (path, detail)
        }
        if let (path, detail) = decided { verdictSink(path, detail) }
    }

    public static func verdict(modem: ModemDataStatus, interface: InterfaceState?, name: String?,
                        dataDuringCalls: DataDuringCalls) -> (DataPath, String) {
        let technology = modem.technology.rawValue
        if modem.inVoiceCall && holdsData(modem.technology, dataDuringCalls) {
            return (.suspended, "held for a voice call on \(technology)")
        }
        guard modem.contextActive else { return (.down, "no PDP context") }
        if let name {
            guard let interface, interface.exists else { return (.down, "interface \(name) absent") }
            guard interface.up, interface.running else { return (.down, "interface \(name) down") }
            guard let address = interface.ipv4Addresses.first else { return (.down, "interface \(name) has no address") }
            guard interface.hasRoute else { return (.down, "interface \(name) has no route") }
            return (.up, "\(name) \(address), \(technology)")
        }
        return (.up, "context active\(modem.address.map { " \($0)" } ?? ""), \(technology)")
    }

    static func holdsData(_ technology: RadioTechnology, _ policy: DataDuringCalls) -> Bool {
        switch (policy, technology) {
        case (.all, _): false
        case (_, .lte), (_, .nr): false
        case (.lteAndUMTS, .umts): false
        // Unknown during a call: assume the worst, positions also go by SMS.
        default: true
        }
    }
}
