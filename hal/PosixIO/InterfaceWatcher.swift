import Glibc
import Synchronization

/// Reports changes of one interface's `InterfaceState` as the kernel
/// announces them over rtnetlink: link flags and carrier, IPv4 addresses and
/// IPv4 routes.
///
/// Messages are not parsed. Any announcement (for any interface) triggers a
/// fresh `NetworkInterfaces.state(of:)`, and `onChange` runs only when that
/// differs from what it last received; a burst of messages is drained before
/// the re-read. This also makes a netlink overrun (ENOBUFS: messages were
/// lost) harmless, since the re-read reflects everything that happened.
///
/// `onChange` runs once on the caller's thread inside `start()`, then on the
/// watcher's own thread, never concurrently with itself. It may call
/// `stop()`.
public final class InterfaceWatcher: Sendable {
    public let interface: String
    private let core: Core
    private let phase = Mutex<Phase>(.idle)

    private enum Phase: Sendable {
        case idle
        /// Claimed by one `start()` while it sets up without the lock held
        /// (the initial `onChange` must not run under it).
        case starting
        case running(Reader, pthread_t)
    }

    public init(interface: String, onChange: @escaping @Sendable (InterfaceState) -> Void) {
        self.interface = interface
        self.core = Core(interface: interface, onChange: onChange)
    }

    deinit {
        stop()
    }

    /// The state last delivered to `onChange`; read afresh before `start()`.
    public var current: InterfaceState {
        core.lastDelivered ?? NetworkInterfaces.state(of: interface)
    }

    /// Subscribes, delivers the current state, then watches on a dedicated
    /// thread until `stop()`. Throws `.invalidArgument` when already started.
    public func start() throws(Errno) {
        try phase.withLock { (phase) throws(Errno) in
            guard case .idle = phase else { throw .invalidArgument }
            phase = .starting
        }
        do throws(Errno) {
            let reader = try Reader.open()
            // Subscribed before this first read, so no change can slip in
            // between it and the thread's first wait.
            core.refresh(force: true)
            let thread: pthread_t
            do throws(Errno) {
                thread = try Self.spawn(reader: reader, core: core)
            } catch {
                reader.close()
                throw error
            }
            phase.withLock { $0 = .running(reader, thread) }
        } catch {
            phase.withLock { $0 = .idle }
            throw error
        }
    }

    /// Ends the thread and closes the socket before returning (unless called
    /// from `onChange`, where the thread finishes right after the callback).
    /// Idempotent; `start()` may be called again afterwards.
    public func stop() {
        let running: (Reader, pthread_t)? = phase.withLock { phase in
            guard case .running(let reader, let thread) = phase else { return nil }
            phase = .idle
            return (reader, thread)
        }
        guard let (reader, thread) = running else { return }
        reader.wake()
        if pthread_equal(pthread_self(), thread) != 0 {
            // Joining ourselves would deadlock; the thread cleans up after
            // the callback returns.
            reader.closeOnExit()
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
            reader.close()
        }
    }

    /// A dedicated thread rather than a dispatch queue: it spends its life
    /// blocked in poll(2), which would pin a shared worker.
    private static func spawn(reader: Reader, core: Core) throws(Errno) -> pthread_t {
        let context = Unmanaged.passRetained(ThreadContext(reader: reader, core: core)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<ThreadContext>.fromOpaque(raw!).takeRetainedValue()
            context.reader.run(core: context.core)
            return nil
        }, context)
        if status != 0 {
            Unmanaged<ThreadContext>.fromOpaque(context).release()
            throw Errno(status)
        }
        return thread
    }
}

private final class ThreadContext: Sendable {
    let reader: Reader
    let core: Core

    init(reader: Reader, core: Core) {
        self.reader = reader
        self.core = core
    }
}

/// Shared by the watcher and its thread, so the thread never keeps the
/// watcher itself alive (its deinit is what stops a forgotten watcher).
private final class Core: Sendable {
    let interface: String
    private let onChange: @Sendable (InterfaceState) -> Void
    private let last = Mutex<InterfaceState?>(nil)

    init(interface: String, onChange: @escaping @Sendable (InterfaceState) -> Void) {
        self.interface = interface
        self.onChange = onChange
    }

    var lastDelivered: InterfaceState? {
        last.withLock { $0 }
    }

    /// Only one thread calls this at a time (`start()` before the watcher
    /// thread exists, then that thread), so deliveries stay in order.
    func refresh(force: Bool) {
        let state = NetworkInterfaces.state(of: interface)
        let changed = last.withLock { last in
            if !force && last == state { return false }
            last = state
            return true
        }
        if changed {
            onChange(state)
        }
    }
}

/// The netlink socket plus a socket pair whose far end `wake()` shuts down:
/// shutdown(2) is not supported on netlink sockets, so it cannot wake the
/// thread's poll(2) directly.
private final class Reader: Sendable {
    private let netlink: FileDescriptor
    private let wakeReceiver: FileDescriptor
    private let wakeSender: FileDescriptor
    /// Set when the thread must close the descriptors itself (self-stop).
    private let ownsDescriptorsOnExit = Atomic(false)

    // Not exported by the Glibc module (linux/netlink.h, linux/rtnetlink.h).
    private static let netlinkRoute: Int32 = 0
    private static let groupLink: UInt32 = 0x1
    private static let groupIPv4Address: UInt32 = 0x10
    private static let groupIPv4Route: UInt32 = 0x40

    private init(netlink: FileDescriptor, wakeReceiver: FileDescriptor, wakeSender: FileDescriptor) {
        self.netlink = netlink
        self.wakeReceiver = wakeReceiver
        self.wakeSender = wakeSender
    }

    static func open() throws(Errno) -> Reader {
        let netlink = try Socket.make(family: AF_NETLINK, type: Int32(SOCK_RAW.rawValue), protocol: netlinkRoute)
        do throws(Errno) {
            try bind(netlink, groups: groupLink | groupIPv4Address | groupIPv4Route)
            var ends: [Int32] = [-1, -1]
            _ = try syscallOnce {
                socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends)
            }
            return Reader(
                netlink: netlink,
                wakeReceiver: FileDescriptor(rawValue: ends[0]),
                wakeSender: FileDescriptor(rawValue: ends[1])
            )
        } catch {
            netlink.closeIgnoringErrors()
            throw error
        }
    }

    /// sockaddr_nl is not imported either; its layout is fixed kernel ABI:
    /// u16 family, u16 padding, u32 port id (0: kernel assigns), u32 groups.
    private static func bind(_ fd: FileDescriptor, groups: UInt32) throws(Errno) {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.storeBytes(of: UInt16(AF_NETLINK), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: groups, toByteOffset: 8, as: UInt32.self)
        }
        _ = try withUnsafePointer(to: &storage) { (pointer) throws(Errno) -> Int32 in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(Errno) -> Int32 in
                try syscallOnce { Glibc.bind(fd.rawValue, address, 12) }
            }
        }
    }

    func run(core: Core) {
        defer {
            if ownsDescriptorsOnExit.load(ordering: .acquiring) {
                close()
            }
        }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var entries = [
            pollfd(fd: netlink.rawValue, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeReceiver.rawValue, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = Glibc.poll(&entries, nfds_t(entries.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                // Only EFAULT/ENOMEM are possible here; neither is
                // recoverable, and nothing could be told about it.
                return
            }
            if entries[1].revents != 0 {
                return
            }
            if entries[0].revents != 0 {
                guard drain(into: &buffer) else { return }
                core.refresh(force: false)
            }
        }
    }

    /// Empties the socket so one re-read covers a whole burst. False when the
    /// socket failed for good.
    private func drain(into buffer: inout [UInt8]) -> Bool {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in
                recv(netlink.rawValue, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT))
            }
            if count >= 0 {
                // A message larger than the buffer is truncated, which does
                // not matter: the contents are never read.
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK:
                return true
            case EINTR, ENOBUFS:
                // ENOBUFS: the kernel dropped messages; the re-read that
                // follows the drain catches up on them.
                continue
            default:
                return false
            }
        }
    }

    func wake() {
        wakeSender.shutdownBoth()
    }

    func closeOnExit() {
        ownsDescriptorsOnExit.store(true, ordering: .releasing)
    }

    func close() {
        netlink.closeIgnoringErrors()
        wakeReceiver.closeIgnoringErrors()
        wakeSender.closeIgnoringErrors()
    }
}
