import Glibc
import PosixIO

/// A flat directory under /tmp for one test, removed with everything in it when the test is done.
final class ScratchDirectory {
    let path: String
    let directory: StorageDirectory

    init(_ purpose: String) throws {
        path = "/tmp/\(purpose)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        directory = try StorageDirectory(path: path)
    }

    deinit {
        for name in (try? directory.names()) ?? [] { try? directory.remove(name) }
        _ = rmdir(path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try directory.replaceAtomically(name, with: Array(text.utf8))
        return file(name)
    }
}
