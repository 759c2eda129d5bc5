import AlarmCore
import AlarmRuntime
import Glibc
import HAL
import LinuxBackends
import PosixIO
import SecureStore
import SimBackends
import Testing

@Suite struct SealedStorageTests {
    func temporaryDirectory() throws -> StorageDirectory {
        try StorageDirectory(path: "/tmp/alarm-sealed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    @Test func recordsAreSealedOnDiskAndBoundToTheirName() throws {
        let directory = try temporaryDirectory()
        let key = try StorageKey.load(path: directory.filePath("storage.key"), createIfMissing: true)
        let files = FileRecordStore(directory: directory)
        let store = SealedRecordStore(sealing: files, with: key)
        let secret = Array("51.054321,3.717654".utf8)
        try store.save("last-fix", secret)
        #expect(try store.load("last-fix") == secret)
        // On the card: no plaintext.
        let raw = try #require(try files.load("last-fix"))
        #expect(!String(decoding: raw, as: UTF8.self).contains("51.05"))
        // Copied under another name, or tampered with: it does not open.
        try files.save("other", raw)
        #expect(throws: HALError.self) { try store.load("other") }
        var tampered = raw
        tampered[tampered.count / 2] ^= 0x01
        try files.save("last-fix", tampered)
        #expect(throws: HALError.self) { try store.load("last-fix") }
        // Another device's key does not open it either.
        try files.save("last-fix", raw)
        let otherKey = try StorageKey.load(path: directory.filePath("other.key"), createIfMissing: true)
        #expect(throws: HALError.self) { try SealedRecordStore(sealing: files, with: otherKey).load("last-fix") }
    }

    @Test func keyFilesMustBeOwnerOnlyAndAreGeneratedOnlyWhereAllowed() throws {
        let directory = try temporaryDirectory()
        let path = directory.filePath("storage.key")
        #expect(throws: StorageKey.Problem.self) { try StorageKey.load(path: path, createIfMissing: false) }
        let key = try StorageKey.load(path: path, createIfMissing: true)
        #expect(key.bytes.count == 32)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try StorageKey.load(path: path, createIfMissing: false).bytes == key.bytes)
        chmod(path, 0o644)
        do {
            _ = try StorageKey.load(path: path, createIfMissing: false)
            Issue.record("a key readable by others was accepted")
        } catch {
            #expect(error.description.contains(path))
            #expect(error.description.contains("readable by others"))
        }
    }

    @Test func lastFixSurvivesARestartSealed() throws {
        let directory = try temporaryDirectory()
        let key = try StorageKey.load(path: directory.filePath("storage.key"), createIfMissing: true)
        let store = SealedRecordStore(sealing: FileRecordStore(directory: directory), with: key)

        let first = Scenario(store: store)
        try first.start()
        first.advance(.seconds(35))  // the receiver's first fixes (idle rate)
        let known = try #require(first.runtime.status.lastFix)
        first.runtime.flushPersistence()

        // Cold boot: the button is pressed before any fix; the alarm still carries the last known position.
        let second = Scenario(route: { $0.noFixFor = .seconds(3600) }, store: store)
        second.advance(.seconds(600))  // ten minutes later on the wall clock too
        try second.start()
        second.advance(.seconds(1))
        second.pressAndHold()
        let alarm = try #require(second.link.received.first)
        #expect(alarm.kind == .alarm)
        let position = try #require(alarm.position)
        #expect(position.source == .lastKnown)
        // The persisted fix is at most one persist interval older than the last one seen (walking pace).
        let lastSeen = Fix(latitude: known.latitude, longitude: known.longitude, horizontalAccuracy: 0,
                           fixTime: WallTime(millisecondsSince1970: 0))
        #expect(position.distance(to: lastSeen) < 60)
        let age = try #require(alarm.positionAge)
        #expect(age >= .seconds(560) && age <= .seconds(610))
    }
}
