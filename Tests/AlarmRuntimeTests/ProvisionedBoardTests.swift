import AlarmCore
import AlarmRuntime
import AlarmSimulation
import Glibc
import HAL
import Logging
import PosixIO
import Provisioning
import SecureStore
import SimBackends
import Testing

/// The board file and the operator's signed bundle, read together: the bundle decides where alarms go; a tampered,
/// foreign, older or missing bundle never takes effect; the device keeps running on the last verified one and
/// tells the centre.
@Suite(.serialized) struct ProvisionedBoardTests {
    let directory = "/tmp/alarm-provisioned-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let operatorKey = OperatorPrivateKey.generate()
    static let verifiedCentre = "+3292000101"
    static let aggressorPhone = "+3249999999"

    var boardPath: String { directory + "/board.json5" }
    var bundlePath: String { directory + "/provisioning.bundle" }
    var operatorKeyPath: String { directory + "/operator.pub" }
    var storageKeyPath: String { directory + "/storage.key" }

    /// The card's board file: hardware roles, and (ignored) values an aggressor wrote into the owned sections.
    var cardBoard: String { cardBoard(naming: bundlePath) }

    func cardBoard(naming bundle: String?) -> String {
        let provisioning = bundle.map { "provisioning: \"\($0)\"," } ?? ""
        return """
        { name: "p", kind: "device", \(provisioning) silence: "usb-audio-no-playback",
          device: { id: "BE-P-1" },
          roles: { button: "sim:", position: "sim:", modem: "sim:", reportLink: "sim:" },
          storage: "\(directory)", storageKey: "\(storageKeyPath)", controlSocket: "\(directory)/alarmd.sock",
          alarm: { centreNumbers: ["\(Self.aggressorPhone)"], triggerHold: "1h", periodicTest: "off" } }
        """
    }

    func setUp() throws {
        let store = try StorageDirectory(path: directory)
        try store.replaceAtomically("operator.pub", with: Array(operatorKey.publicKey.fileText.utf8))
        try store.replaceAtomically("board.json5", with: Array(cardBoard.utf8))
        _ = try StorageKey.load(path: storageKeyPath, createIfMissing: true)
    }

    func tearDown() { _ = try? ChildProcess.spawn("rm", ["-rf", directory]).wait(timeoutMilliseconds: 10_000) }

    func payload(centre: String = verifiedCentre, storageFingerprint: String? = nil) throws -> [UInt8] {
        let fingerprint = try storageFingerprint ?? KeyFingerprint.ofFile(at: storageKeyPath)
        return Array("""
            { kind: "hil", device: { id: "BE-P-1" }, silence: "no-speaker", roles: { reportLink: "sim:" },
              alarm: { centreNumbers: ["\(centre)"], triggerHold: "2s", periodicTest: "24h" },
              fingerprints: { storageKey: "\(fingerprint)" } }
            """.utf8)
    }

    func install(_ payload: [UInt8], counter: UInt64, signer: OperatorPrivateKey? = nil) throws {
        let bundle = try ProvisioningBundle.sign(payload: payload, counter: counter, deviceID: "BE-P-1", with: signer ?? operatorKey)
        try StorageDirectory(path: directory).replaceAtomically("provisioning.bundle", with: bundle.encoded)
    }

    func load() throws(BoardError) -> Board { try ProvisionedBoard.load(path: boardPath, operatorKeyPath: operatorKeyPath) }

    func loadError() -> BoardError? {
        do {
            _ = try load()
            return nil
        } catch {
            return error
        }
    }

    @Test func theSignedPayloadDecidesWhereTheAlarmGoesNotTheCard() throws {
        try setUp()
        defer { tearDown() }
        try install(try payload(), counter: 1)
        let board = try load()
        #expect(board.alarm.centreNumbers == [Self.verifiedCentre])
        #expect(board.alarm.triggerHold == .seconds(2))
        #expect(board.silence == .noSpeaker, "silence is the payload's, not the card's")
        #expect(board.alarm.periodicTestInterval == .seconds(86_400))
        let status = try #require(board.provisioning)
        #expect(status.counter == 1 && status.candidateRefused == nil)
        #expect(status.signer == operatorKey.publicKey.shortFingerprint)
    }

    @Test func aDeviceBoardWithoutABundleIsRefusedInOneLine() throws {
        try setUp()
        defer { tearDown() }
        let bare = cardBoard(naming: nil)
        try StorageDirectory(path: directory).replaceAtomically("board.json5", with: Array(bare.utf8))
        let error = try #require(loadError())
        #expect(error.key == "provisioning")
        #expect(error.problem.contains("signed by the operator"))
    }

    @Test func withNoVerifiedBundleAtAllTheDaemonRefusesToStart() throws {
        try setUp()
        defer { tearDown() }
        #expect(loadError()?.problem.hasPrefix("no verified provisioning bundle, not starting") == true, "missing")
        try install(try payload(), counter: 1, signer: .generate())
        let foreign = try #require(loadError())
        #expect(foreign.key == "provisioning")
        #expect(foreign.problem.contains("no verified provisioning bundle, not starting"), "\(foreign.problem)")
    }

    @Test(arguments: ["flipped byte", "foreign signer", "older counter", "reused counter", "missing"])
    func aRefusedBundleLeavesTheLastVerifiedInForce(case refusal: String) throws {
        try setUp()
        defer { tearDown() }
        try install(try payload(), counter: 2)
        let verified = try load()
        #expect(verified.provisioning?.candidateRefused == nil)
        let redirected = try payload(centre: Self.aggressorPhone)
        switch refusal {
        case "flipped byte":
            var bytes = try #require(try StorageDirectory.readFile(bundlePath))
            let at = bytes.count / 2
            bytes[at] ^= 0x01
            try StorageDirectory(path: directory).replaceAtomically("provisioning.bundle", with: bytes)
        case "foreign signer": try install(redirected, counter: 3, signer: .generate())
        case "older counter": try install(redirected, counter: 1)
        case "reused counter": try install(redirected, counter: 2)
        default: unlink(bundlePath)
        }
        let board = try load()
        #expect(board.alarm.centreNumbers == [Self.verifiedCentre], "\(refusal)")
        let status = try #require(board.provisioning)
        #expect(status.counter == 2, "\(refusal)")
        #expect(status.candidateRefused != nil, "\(refusal)")
        #expect(status.summary.contains("REFUSED"))
    }

    @Test func aNewerSignedBundleTakesEffect() throws {
        try setUp()
        defer { tearDown() }
        try install(try payload(), counter: 1)
        _ = try load()
        try install(try payload(centre: "+3292000555"), counter: 2)
        let board = try load()
        #expect(board.alarm.centreNumbers == ["+3292000555"])
        #expect(board.provisioning?.counter == 2 && board.provisioning?.candidateRefused == nil)
        // The older one is now a rollback.
        try install(try payload(), counter: 1)
        #expect(try load().alarm.centreNumbers == ["+3292000555"])
    }

    @Test func aReplacedKeyFileRefusesToStartNamingTheKey() throws {
        try setUp()
        defer { tearDown() }
        try install(try payload(), counter: 1)
        _ = try load()
        unlink(storageKeyPath)
        _ = try StorageKey.load(path: storageKeyPath, createIfMissing: true)
        let error = try #require(loadError())
        #expect(error.key == "storageKey", "\(error)")
        #expect(error.problem.contains("does not match the provisioning bundle"))
    }

    /// The device started on a verified bundle; the aggressor then writes his own bundle (a foreign signer
    /// redirecting the centre number): the running alarm still calls the centre, and the next start refuses the
    /// bundle, reports tamper to the centre and still calls the centre.
    @Test func aBundleChangedWhileRunningNeverTakesEffectAndIsReportedAtTheNextStart() throws {
        try setUp()
        defer { tearDown() }
        try install(try payload(), counter: 1)
        let quiet = Logger(label: "p", factory: { _ in SwiftLogNoOpLogHandler() })

        let clock = ManualClock()
        let running = try SimulationAssembly.assemble(try load(), clock: clock, logger: quiet, store: InMemoryRecordStore())
        try running.start()
        clock.advance(by: .seconds(1))
        try install(try payload(centre: Self.aggressorPhone), counter: 5, signer: .generate())
        running.simulation.button?.press(holding: .milliseconds(2500))
        for _ in 0..<30 { clock.advance(by: .milliseconds(100)) }
        #expect(running.simulation.modem?.dialledNumbers.first == Self.verifiedCentre)
        #expect(running.simulation.reportLink?.received.contains { $0.kind == .alarm } == true)
        #expect(running.simulation.reportLink?.received.contains { $0.kind == .provisioningTamper } == false)
        running.stop()

        let board = try load()
        #expect(board.provisioning?.candidateRefused?.contains("foreign") == true, "\(String(describing: board.provisioning))")
        let restartClock = ManualClock()
        let restarted = try SimulationAssembly.assemble(board, clock: restartClock, logger: quiet, store: InMemoryRecordStore())
        try restarted.start()
        defer { restarted.stop() }
        restartClock.advance(by: .seconds(1))
        let tamper = restarted.simulation.reportLink?.received.filter { $0.kind == .provisioningTamper } ?? []
        #expect(tamper.count == 1)
        #expect(restarted.runtime.status.provisioning?.contains("REFUSED") == true)
        restarted.simulation.button?.press(holding: .milliseconds(2500))
        for _ in 0..<30 { restartClock.advance(by: .milliseconds(100)) }
        #expect(restarted.simulation.modem?.dialledNumbers.first == Self.verifiedCentre)
    }
}
