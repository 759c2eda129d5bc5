import Glibc
import PosixIO
import Testing

@Suite struct DurableFilesTests {
    @Test func replaceAtomicallyLeavesOnlyThePrivateFile() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTree(root) }
        let storage = try StorageDirectory(path: root + "/state/alarms")
        #expect(try #require(fileMode(storage.path)) & 0o777 == 0o700)

        try storage.replaceAtomically("queue", with: [1, 2, 3])
        try storage.replaceAtomically("queue", with: [4, 5])
        #expect(try storage.read("queue") == [4, 5])
        #expect(directoryEntries(storage.path) == ["queue"])
        #expect(try #require(fileMode(storage.filePath("queue"))) & 0o777 == 0o600)

        try storage.replaceAtomically("empty", with: [])
        #expect(try storage.read("empty") == [])
    }

    @Test func appendDurablyAppends() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTree(root) }
        let storage = try StorageDirectory(path: root)
        try storage.appendDurably("log", Array("first\n".utf8))
        try storage.appendDurably("log", Array("second\n".utf8))
        #expect(try storage.read("log") == Array("first\nsecond\n".utf8))
        #expect(try #require(fileMode(storage.filePath("log"))) & 0o777 == 0o600)
    }

    @Test func largeFileRoundTrips() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTree(root) }
        let storage = try StorageDirectory(path: root)
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try storage.replaceAtomically("big", with: bytes)
        #expect(try storage.read("big") == bytes)
    }

    @Test func missingFilesAreNilAndRemovable() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTree(root) }
        let storage = try StorageDirectory(path: root)
        #expect(try storage.read("absent") == nil)
        try storage.remove("absent")
        try storage.replaceAtomically("present", with: [9])
        try storage.remove("present")
        #expect(try storage.read("present") == nil)
    }

    @Test(arguments: ["", ".", "..", "a/b", "/etc", "../escape"])
    func invalidNamesAreRejected(name: String) throws {
        let root = try makeTemporaryDirectory()
        defer { removeTree(root) }
        let storage = try StorageDirectory(path: root)
        let invalid = Errno(EINVAL)
        #expect(throws: invalid) { try storage.replaceAtomically(name, with: [1]) }
        #expect(throws: invalid) { try storage.appendDurably(name, [1]) }
        #expect(throws: invalid) { _ = try storage.read(name) }
        #expect(throws: invalid) { try storage.remove(name) }
        #expect(throws: invalid) { _ = try storage.subdirectory(name) }
        #expect(directoryEntries(root).isEmpty)
    }

    @Test func subdirectoriesAndExistingDirectories() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTree(root) }
        let storage = try StorageDirectory(path: root + "/")
        #expect(storage.path == root)
        let pairing = try storage.subdirectory("pairing")
        #expect(pairing.path == root + "/pairing")
        try pairing.replaceAtomically("key", with: [42])
        #expect(try StorageDirectory(path: root + "/pairing", create: false).read("key") == [42])
        #expect(throws: Errno.noSuchFile) { _ = try StorageDirectory(path: root + "/missing", create: false) }
    }
}
