import Glibc

// A signal delivered to this thread makes slow syscalls fail with EINTR even
// though nothing went wrong; callers never want to see that, so every wrapper
// funnels through these helpers.

/// Runs `body` until it either succeeds or fails with something other than
/// EINTR. `failed` decides from the return value whether errno is meaningful.
@inline(__always)
func retryingOnInterrupt<T>(_ body: () -> T, failed: (T) -> Bool) throws(Errno) -> T {
    while true {
        let result = body()
        if !failed(result) {
            return result
        }
        let error = Errno.current
        if error != .interrupted {
            throw error
        }
    }
}

/// For the common "-1 and errno" convention with an `Int32` result.
@inline(__always)
func syscallRetrying(_ body: () -> Int32) throws(Errno) -> Int32 {
    try retryingOnInterrupt(body, failed: { $0 == -1 })
}

/// For the "-1 and errno" convention with an `ssize_t` result.
@inline(__always)
func syscallRetrying(_ body: () -> Int) throws(Errno) -> Int {
    try retryingOnInterrupt(body, failed: { $0 == -1 })
}

/// For calls that must not be retried (close(2)) or cannot return EINTR.
@inline(__always)
func syscallOnce(_ body: () -> Int32) throws(Errno) -> Int32 {
    let result = body()
    if result == -1 {
        throw Errno.current
    }
    return result
}
