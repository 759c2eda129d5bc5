import Glibc

/// What the kernel says about one network interface at one moment.
///
/// `usable` is deliberately strict: a link that is up with carrier but has
/// lost its address or its route (a modem whose PDP context dropped, a DHCP
/// lease that expired) cannot carry a report, and treating it as usable
/// would hide exactly the failure the alarm must notice.
public struct InterfaceState: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var exists: Bool
    /// IFF_UP: administratively enabled.
    public var up: Bool
    /// IFF_RUNNING: the kernel considers the link operational (carrier).
    public var running: Bool
    /// Dotted quads, in the order the kernel lists them.
    public var ipv4Addresses: [String]
    /// Some IPv4 route in the main table leaves through this interface.
    public var hasRoute: Bool

    public init(
        name: String,
        exists: Bool = false,
        up: Bool = false,
        running: Bool = false,
        ipv4Addresses: [String] = [],
        hasRoute: Bool = false
    ) {
        self.name = name
        self.exists = exists
        self.up = up
        self.running = running
        self.ipv4Addresses = ipv4Addresses
        self.hasRoute = hasRoute
    }

    public var usable: Bool {
        exists && up && running && !ipv4Addresses.isEmpty && hasRoute
    }

    public var description: String {
        guard exists else { return "\(name): absent" }
        let flags = [up ? "up" : "down", running ? "running" : "no-carrier", hasRoute ? "routed" : "no-route"]
        let addresses = ipv4Addresses.isEmpty ? "no-address" : ipv4Addresses.joined(separator: ",")
        return "\(name): \(flags.joined(separator: " ")) \(addresses)"
    }
}

public enum NetworkInterfaces {
    /// Reads the interface's flags and addresses (getifaddrs) and the
    /// routing table (/proc/net/route) of the calling thread's network
    /// namespace.
    ///
    /// Does not throw: every failure to read reports the interface as
    /// missing or unrouted, i.e. not usable, which is the safe reading for a
    /// caller deciding whether it may rely on the link.
    public static func state(of name: String) -> InterfaceState {
        var state = InterfaceState(name: name)
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let list else {
            return state
        }
        defer { freeifaddrs(list) }
        let aliasPrefix = name + ":"
        var entry: UnsafeMutablePointer<ifaddrs>? = list
        while let current = entry {
            entry = current.pointee.ifa_next
            guard let rawName = current.pointee.ifa_name else { continue }
            let label = String(cString: rawName)
            // glibc names IPv4 entries by their label, so an old-style alias
            // address ("eth0:1") still belongs to eth0.
            guard label == name || label.hasPrefix(aliasPrefix) else { continue }
            state.exists = true
            // Every entry carries the link's flags, including the AF_PACKET
            // one that exists even when the interface has no address.
            let flags = current.pointee.ifa_flags
            state.up = state.up || flags & UInt32(IFF_UP) != 0
            state.running = state.running || flags & UInt32(IFF_RUNNING) != 0
            if let address = current.pointee.ifa_addr, Int32(address.pointee.sa_family) == AF_INET,
               let text = dottedQuad(address), !state.ipv4Addresses.contains(text) {
                state.ipv4Addresses.append(text)
            }
        }
        if state.exists {
            state.hasRoute = routedInterfaces().contains(name)
        }
        return state
    }

    private static func dottedQuad(_ address: UnsafeMutablePointer<sockaddr>) -> String? {
        var inet = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &inet, &buffer, socklen_t(buffer.count)) != nil else {
            return nil
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Output devices of the main IPv4 table. /proc/net/route is the one
    /// interface to it that needs neither netlink parsing nor privileges.
    private static func routedInterfaces() -> Set<String> {
        guard let contents = try? StorageDirectory.readFile("/proc/net/route") else {
            return []
        }
        var names: Set<String> = []
        // The first line is a header; each further line starts with the
        // device name, separated from the destination by a tab.
        for line in contents.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let field = line.prefix { $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: " ") }
            if !field.isEmpty {
                names.insert(String(decoding: field, as: UTF8.self))
            }
        }
        return names
    }
}
