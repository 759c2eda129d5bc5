import Glibc

/// Runs code inside another network namespace (e.g. one made by
/// `ip netns add`), for tests and simulations that need a second, isolated
/// network stack in the same process.
public enum NetworkNamespace {
    /// Switches the calling thread (only that thread) into the namespace at
    /// `path` (typically `/run/netns/NAME`), runs `body`, and switches back,
    /// also when `body` throws. Sockets created inside stay in that namespace
    /// for their whole life, wherever they are used later.
    ///
    /// `body` must not suspend or hop threads: it has to run to completion on
    /// this thread, or other work scheduled here would run in the wrong
    /// namespace. That is why it is not `async`. Needs CAP_SYS_ADMIN
    /// (`.notPermitted` otherwise).
    ///
    /// If switching back fails the thread is stuck in a foreign namespace
    /// with no way to tell its future users, so the process stops.
    public static func withEntered<T>(_ path: String, _ body: () throws -> T) throws -> T {
        guard let setns = setnsFunction else {
            throw Errno.notImplemented
        }
        let target = try FileDescriptor.open(path, O_RDONLY)
        defer { target.closeIgnoringErrors() }
        // thread-self, not self: setns(2) moves only the calling thread, and
        // /proc/self/ns/net shows the main thread's namespace.
        let original = try FileDescriptor.open("/proc/thread-self/ns/net", O_RDONLY)
        defer { original.closeIgnoringErrors() }

        if setns(target.rawValue, cloneNewNet) == -1 {
            throw Errno.current
        }
        defer {
            if setns(original.rawValue, cloneNewNet) == -1 {
                fatalError("cannot return to the original network namespace after entering \(path): \(Errno.current)")
            }
        }
        return try body()
    }

    // sched.h declares both only under _GNU_SOURCE, which the Glibc module
    // is built without; setns(3) exists in glibc since 2.14.
    private static let cloneNewNet: Int32 = 0x4000_0000

    private typealias SetNS = @convention(c) (Int32, Int32) -> Int32

    private static let setnsFunction: SetNS? = {
        guard let symbol = dlsym(nil, "setns") else { return nil }
        return unsafeBitCast(symbol, to: SetNS.self)
    }()
}
