import Dispatch
import Glibc
import PosixIO
import Synchronization

/// Generous: only reached when something is broken, so it costs nothing on a
/// healthy run but keeps a hung test from blocking the suite.
func deadline(seconds: Int = 10) -> DispatchTime {
    .now() + .seconds(seconds)
}

/// Thread-safe accumulator shared between a test and its callbacks.
final class Recorder<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ initial: Value) {
        storage = Mutex(initial)
    }

    func update<R: Sendable>(_ body: (inout Value) -> R) -> R {
        storage.withLock { body(&$0) }
    }

    var value: Value {
        storage.withLock { $0 }
    }
}

/// A fresh private directory per test, so parallel tests never collide.
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/posixio-test-XXXXXX".utf8CString)
    guard let result = mkdtemp(&template) else {
        throw Errno.current
    }
    return String(cString: result)
}

func removeTree(_ path: String) {
    guard let directory = opendir(path) else { return }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name == "." || name == ".." { continue }
        let child = path + "/" + name
        var info = stat()
        if lstat(child, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
            removeTree(child)
        } else {
            unlink(child)
        }
    }
    closedir(directory)
    rmdir(path)
}

func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." {
            names.append(name)
        }
    }
    return names.sorted()
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode
}
