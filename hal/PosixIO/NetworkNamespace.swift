import Glibc

/// Runs code inside another network namespace (e.g. one made by
/// `ip netns add`), for tests and simulations that need a second, isolated
/// network stack in the same process.
public enum NetworkNamespace {
    /// Runs `body` inside the namespace at `path` (typically `/run/netns/NAME`) and returns what it returns or
    /// throws. Sockets created inside stay in that namespace for their whole life, wherever they are used later.
    ///
    /// setns(2) moves one thread, and moving a thread back can fail; so `body` runs on a thread of its own, made for
    /// it and ended after it, while the caller waits. No thread ever has to return from the namespace. `body` must
    /// not suspend (it is not `async`). Needs CAP_SYS_ADMIN (`.notPermitted` otherwise).
    public static func withEntered<T>(_ path: String, _ body: () throws -> T) throws -> T {
        guard let setns = setnsFunction else {
            throw Errno.notImplemented
        }
        let target = try FileDescriptor.open(path, O_RDONLY)
        defer { target.closeIgnoringErrors() }
        var outcome: Result<T, any Error> = .failure(Errno.notImplemented)
        try withoutActuallyEscaping(body) { body in
            let job = ThreadJob {
                guard setns(target.rawValue, cloneNewNet) == 0 else {
                    outcome = .failure(Errno.current)
                    return
                }
                outcome = Result { try body() }
            }
            try job.runOnNewThread()
        }
        return try outcome.get()
    }

    /// Work for one new thread, waited for with pthread_join.
    private final class ThreadJob: @unchecked Sendable {
        // Touched by the new thread only, and read by the caller after the join: never at the same time.
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }

        func runOnNewThread() throws(Errno) {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let created = pthread_create(&thread, nil, { raw in
                Unmanaged<ThreadJob>.fromOpaque(raw!).takeRetainedValue().work()
                return nil
            }, context)
            guard created == 0 else {
                Unmanaged<ThreadJob>.fromOpaque(context).release()
                throw Errno(created)
            }
            pthread_join(thread, nil)
        }
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
