import Dispatch
import Glibc
import PosixIO
import Synchronization

/// Why a fixture cannot run on this machine; tests report it and skip.
public struct SkipReason: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A failed `ip` command of a fixture that did set up fine.
public struct IPCommandFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A real network link for tests: a veth pair whose device end stays in the
/// root namespace (standing in for the modem's interface) and whose peer
/// sits in a private network namespace standing in for the alarm centre.
///
/// Optionally a second veth pair plays a Wi-Fi/Ethernet path of a
/// development board: the root namespace gets a route to the centre's
/// subnet through it with a worse metric than the direct link, so with the
/// modem link down unbound traffic still reaches the centre that way, which
/// is exactly what binding to the modem's interface must prevent.
///
/// Each fixture gets its own 10.213.N.0/24 (and 10.214.N.0/24), picked under
/// a lock file from the subnets no interface uses, so fixtures of parallel
/// tests and of concurrent test processes never overlap. Needs root and
/// iproute2; `make` says why when either is missing.
public final class VethNamespace: Sendable {
    public let namespaceName: String
    /// For `NetworkNamespace.withEntered`.
    public let namespacePath: String
    /// The root-namespace end of the modem-like link.
    public let deviceInterface: String
    public let deviceAddress: String
    public let centreAddress: String
    /// The peer of `deviceInterface`, inside the namespace.
    public let centreInterface = "centre0"
    /// The root-namespace end of the Wi-Fi-like path, when made with one.
    public let secondPathInterface: String?
    public let secondPathDeviceAddress: String?
    public let secondPathCentreAddress: String?

    private let ip: String
    /// What this fixture made and must delete: never a name that was already
    /// taken, even if `make` fails half-way.
    private let created = Mutex(Created())

    private struct Created {
        var namespace = false
        var links: [String] = []
    }

    private static let counter = Atomic<Int>(0)
    private static let lockPath = "/run/alarmtest-veth.lock"

    /// Decided once per process by building (and removing) a real fixture,
    /// for `.enabled(if:)`; prints the reason when unavailable, since the
    /// trait's comment cannot carry it.
    public static let availability: SkipReason? = {
        switch make() {
        case .success(let probe):
            probe.remove()
            return nil
        case .failure(let reason):
            print("VethNamespace unavailable: \(reason)")
            return reason
        }
    }()

    public static var available: Bool { availability == nil }

    private init(ip: String, index: Int, subnet: Int, withSecondPath: Bool) {
        let names = VethNamespaceNames(index: index)
        self.ip = ip
        namespaceName = names.namespace
        namespacePath = names.namespacePath
        deviceInterface = names.device
        deviceAddress = "10.213.\(subnet).2"
        centreAddress = "10.213.\(subnet).1"
        secondPathInterface = withSecondPath ? names.secondPath : nil
        secondPathDeviceAddress = withSecondPath ? "10.214.\(subnet).2" : nil
        secondPathCentreAddress = withSecondPath ? "10.214.\(subnet).1" : nil
    }

    deinit {
        remove()
    }

    /// Returns once the links are usable (carrier, addresses, routes), so a
    /// test starts from a known state.
    public static func make(withSecondPath: Bool = false) -> Result<VethNamespace, SkipReason> {
        guard geteuid() == 0 else {
            return .failure(SkipReason("not root (network namespaces and veth pairs need CAP_NET_ADMIN)"))
        }
        let candidates: [String] = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"]
        guard let ip = candidates.first(where: { access($0, X_OK) == 0 }) else {
            return .failure(SkipReason("iproute2 `ip` not found in /usr/sbin, /sbin or /usr/bin"))
        }
        let lock: FileDescriptor
        do {
            lock = try FileDescriptor.open(lockPath, O_RDWR | O_CREAT, mode: 0o600)
        } catch {
            return .failure(SkipReason("cannot open \(lockPath): \(error)"))
        }
        defer { try? lock.close() }
        // Held from picking the subnet until its addresses exist, which is
        // what makes the subnet visible as taken to the next fixture.
        while flock(lock.rawValue, LOCK_EX) == -1 && errno == EINTR {}
        defer { _ = flock(lock.rawValue, LOCK_UN) }
        guard let subnet = freeSubnet() else {
            return .failure(SkipReason("no free 10.213.N.0/24 subnet left (stale fixtures? see `ip -4 addr`)"))
        }
        // pid % 10000 can repeat across concurrent test processes.
        var index: Int
        repeat {
            index = counter.add(1, ordering: .relaxed).newValue
        } while namesTaken(index: index)
        let fixture = VethNamespace(ip: ip, index: index, subnet: subnet, withSecondPath: withSecondPath)
        do {
            try fixture.setUp()
        } catch {
            fixture.remove()
            return .failure(SkipReason("setting up \(fixture.namespaceName) failed: \(error)"))
        }
        return .success(fixture)
    }

    private static func namesTaken(index: Int) -> Bool {
        let probe = VethNamespaceNames(index: index)
        return access(probe.namespacePath, F_OK) == 0
            || NetworkInterfaces.state(of: probe.device).exists
            || NetworkInterfaces.state(of: probe.secondPath).exists
    }

    private func setUp() throws(IPCommandFailure) {
        try run(["netns", "add", namespaceName])
        created.withLock { $0.namespace = true }
        try addLink(root: deviceInterface, rootAddress: deviceAddress, peer: centreInterface, peerAddress: centreAddress)
        try run(["-n", namespaceName, "link", "set", "lo", "up"])
        if let wifi = secondPathInterface, let wifiAddress = secondPathDeviceAddress, let gateway = secondPathCentreAddress {
            try addLink(root: wifi, rootAddress: wifiAddress, peer: "wifi0", peerAddress: gateway)
            // The same prefix length as the direct (connected, metric 0)
            // route, so the metric decides: a /32 would win over the /24 by
            // longest match and take all traffic even with the modem up.
            let subnet = centreAddress.split(separator: ".").prefix(3).joined(separator: ".") + ".0/24"
            try run(["route", "add", subnet, "via", gateway, "dev", wifi, "metric", "100"])
        }
        var waits = [deviceInterface]
        if let wifi = secondPathInterface { waits.append(wifi) }
        for name in waits {
            guard Self.wait(for: name, seconds: 10, until: { $0.usable }) else {
                throw IPCommandFailure(description: "\(name) did not become usable: \(NetworkInterfaces.state(of: name))")
            }
        }
    }

    /// Replies from the namespace need no route of their own: it has both
    /// subnets connected, and the reply goes back the way the request came.
    private func addLink(root: String, rootAddress: String, peer: String, peerAddress: String) throws(IPCommandFailure) {
        try run(["link", "add", root, "type", "veth", "peer", "name", peer, "netns", namespaceName])
        created.withLock { $0.links.append(root) }
        try run(["addr", "add", rootAddress + "/24", "dev", root])
        try run(["-n", namespaceName, "addr", "add", peerAddress + "/24", "dev", peer])
        try run(["-n", namespaceName, "link", "set", peer, "up"])
        try run(["link", "set", root, "up"])
    }

    /// The root-side end going administratively down or up, like the modem
    /// driver taking its interface down. The address survives a down (only
    /// the connected route goes, and the kernel restores it on up).
    public func setDeviceLink(up: Bool) throws(IPCommandFailure) {
        try run(["link", "set", deviceInterface, up ? "up" : "down"])
    }

    /// The centre end going down: the device end stays up but loses its
    /// carrier, like a modem whose radio link dropped.
    public func setCentreLink(up: Bool) throws(IPCommandFailure) {
        try run(["-n", namespaceName, "link", "set", centreInterface, up ? "up" : "down"])
    }

    /// A listening socket that lives in the namespace, bound to the centre
    /// address; accept from any thread.
    public func listen(port: UInt16) throws -> TCPListener {
        try NetworkNamespace.withEntered(namespacePath) {
            try TCP.listen(host: centreAddress, port: port)
        }
    }

    /// Deleting a veth end deletes its peer at once; deleting only the
    /// namespace would leave the root ends until the kernel's asynchronous
    /// namespace cleanup runs (and forever while a socket still holds the
    /// namespace). Idempotent; failures (already gone) are ignored.
    public func remove() {
        let owned = created.withLock { created in
            defer { created = Created() }
            return created
        }
        for name in owned.links {
            try? run(["link", "del", name])
        }
        if owned.namespace {
            try? run(["netns", "del", namespaceName])
        }
    }

    /// Waits (event-driven, through an InterfaceWatcher) until `condition`
    /// holds for the interface's state.
    public static func wait(for interface: String, seconds: Double, until condition: @escaping @Sendable (InterfaceState) -> Bool) -> Bool {
        let states = Collector<InterfaceState>()
        let watcher = InterfaceWatcher(interface: interface) { states.append($0) }
        do {
            try watcher.start()
        } catch {
            return false
        }
        defer { watcher.stop() }
        return states.waitUntil(seconds: seconds) { $0.last.map(condition) ?? false }
    }

    private static func freeSubnet() -> Int? {
        var used: Set<Int> = []
        var list: UnsafeMutablePointer<ifaddrs>?
        if getifaddrs(&list) == 0 {
            var entry = list
            while let current = entry {
                entry = current.pointee.ifa_next
                guard let address = current.pointee.ifa_addr, Int32(address.pointee.sa_family) == AF_INET else { continue }
                let host = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
                }
                if host >> 16 == (10 << 8 | 213) || host >> 16 == (10 << 8 | 214) {
                    used.insert(Int((host >> 8) & 0xff))
                }
            }
            freeifaddrs(list)
        }
        return (1...254).first { !used.contains($0) }
    }

    /// Runs `ip` and waits for it; its stderr becomes the failure text.
    private func run(_ arguments: [String]) throws(IPCommandFailure) {
        let command = (["ip"] + arguments).joined(separator: " ")
        var template = Array("/tmp/alarmtest-ip-XXXXXX".utf8CString)
        let errorFile = mkstemp(&template)
        guard errorFile >= 0 else {
            throw IPCommandFailure(description: "\(command): cannot create a temporary file: \(Errno.current)")
        }
        unlink(template)
        let stderr = FileDescriptor(rawValue: errorFile)
        defer { try? stderr.close() }
        var status: Int32?
        do {
            let child = try ChildProcess.spawn(ip, arguments, stderr: stderr)
            status = try child.wait(timeoutMilliseconds: 30_000)
            if status == nil {
                status = child.stop()
            }
        } catch {
            throw IPCommandFailure(description: "\(command): \(error)")
        }
        guard status == 0 else {
            lseek(errorFile, 0, SEEK_SET)
            let message = (try? stderr.read(upTo: 4096)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            throw IPCommandFailure(description: "\(command) exited with \(status.map(String.init) ?? "?"): \(message)")
        }
    }
}

private struct VethNamespaceNames {
    let namespace: String
    let namespacePath: String
    let device: String
    let secondPath: String

    init(index: Int) {
        let pid = Int(getpid())
        namespace = "alarmtest-\(pid)-\(index)"
        namespacePath = "/run/netns/" + namespace
        // IFNAMSIZ: at most 15 characters ("amd" + 4 digits + the counter).
        device = "amd\(pid % 10000)\(index)"
        secondPath = "awf\(pid % 10000)\(index)"
    }
}
