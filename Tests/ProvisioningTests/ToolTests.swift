import Glibc
import PosixIO
import Provisioning
import Testing

/// `alarm-provision` end to end: the built binary beside the tests (swift build --build-tests), in a scratch directory.
@Suite struct ToolTests {
    static let tool = ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false).dropLast()
        .joined(separator: "/") + "/alarm-provision"
    let scratch: ScratchDirectory

    init() throws {
        scratch = try ScratchDirectory("alarm-provision-tool")
    }

    struct Run { var status: Int32; var output: String }

    /// Runs the tool with stdout and stderr together, as an operator sees them.
    func run(_ arguments: [String]) throws -> Run {
        try #require(access(Self.tool, X_OK) == 0, "alarm-provision is built beside the tests (swift build --build-tests)")
        let pipe = try PosixPipe.open()
        defer { _ = try? pipe.reader.close() }
        let child = try ChildProcess.spawn(Self.tool, arguments, stdout: pipe.writer, stderr: pipe.writer)
        try pipe.writer.close()
        var output: [UInt8] = []
        while true {
            let chunk = try pipe.reader.read(upTo: 4096)
            if chunk.isEmpty { break }
            output += chunk
        }
        let status = try #require(try child.wait(timeoutMilliseconds: 30_000))
        return Run(status: status, output: String(decoding: output, as: UTF8.self))
    }

    func path(_ name: String) -> String { scratch.file(name) }

    func write(_ name: String, _ text: String) throws { try scratch.write(name, text) }

    func read(_ name: String) throws -> [UInt8] { try #require(try StorageDirectory.readFile(path(name))) }

    @Test func keygenSignVerifyAndAnEditedPayloadFails() throws {
        let keygen = try run(["keygen", "--private", path("operator.key"), "--public", path("operator.pub")])
        #expect(keygen.status == 0, "\(keygen.output)")
        var info = stat()
        #expect(stat(path("operator.key"), &info) == 0 && info.st_mode & 0o777 == 0o600, "the private key is owner-only")
        let again = try run(["keygen", "--private", path("operator.key"), "--public", path("other.pub")])
        #expect(again.status != 0 && again.output.contains("refusing to overwrite"), "\(again.output)")

        try write("dc09.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n")
        let fingerprint = try run(["fingerprint", path("dc09.key")])
        #expect(fingerprint.status == 0)
        #expect(fingerprint.output == KeyFingerprint.of(try read("dc09.key")) + "\n")

        try write("payload.json5", """
            {
              kind: "device",
              device: { id: "BE-PZ2-0001" },
              roles: { reportLink: "dc09+tcp://alarm-rx1.example.be:7510" },
              alarm: { centreNumbers: ["+3292000101"] },
              reporting: { account: "5A1001", prefix: "1", keyFile: "/etc/stalking-alarm/dc09.key" },
              fingerprints: { reporting: { keyFile: "\(fingerprint.output.dropLast())" } },
            }

            """)
        let sign = try run(["sign", "--key", path("operator.key"), "--counter", "1", "--device-id", "BE-PZ2-0001",
                            path("payload.json5"), "--output", path("device.bundle")])
        #expect(sign.status == 0, "\(sign.output)")
        #expect(sign.output.contains("warning:") && sign.output.contains("no fingerprints.storageKey"), "\(sign.output)")

        let verify = try run(["verify", "--operator-key", path("operator.pub"), path("device.bundle"), "--device-id", "BE-PZ2-0001"])
        #expect(verify.status == 0, "\(verify.output)")
        let publicKey = try OperatorPublicKey(fileText: String(decoding: try read("operator.pub"), as: UTF8.self))
        let digest = try ProvisioningBundle.parse(try read("device.bundle")).digest.full
        #expect(verify.output.contains("signer   \(publicKey.fingerprint)"))
        #expect(verify.output.contains("counter  1"))
        #expect(verify.output.contains("digest   \(digest)"))

        let show = try run(["show", path("device.bundle")])
        #expect(show.status == 0)
        #expect(show.output.contains("NOT VERIFIED") && show.output.contains("+3292000101") && show.output.contains(digest))

        // The aggressor puts his own number in the bundle's payload (same length, so the envelope still parses).
        let edited = try read("device.bundle").replacing("+3292000101", "+3247000666")
        try scratch.directory.replaceAtomically("edited.bundle", with: edited)
        let refused = try run(["verify", "--operator-key", path("operator.pub"), path("edited.bundle")])
        #expect(refused.status != 0)
        #expect(refused.output == "Error: \(path("edited.bundle")): refused: bad signature: the bundle was altered after the operator signed it\n")

        let otherDevice = try run(["verify", "--operator-key", path("operator.pub"), path("device.bundle"), "--device-id", "BE-PZ2-0002"])
        #expect(otherDevice.status != 0 && otherDevice.output.contains("made for device \"BE-PZ2-0001\""), "\(otherDevice.output)")
    }

    @Test func signRefusesBadInputWithOneLine() throws {
        _ = try run(["keygen", "--private", path("operator.key"), "--public", path("operator.pub")])
        try write("payload.json5", "{ device: { id: \"BE-PZ2-0001\" } }")
        let zero = try run(["sign", "--key", path("operator.key"), "--counter", "0", "--device-id", "BE-PZ2-0001",
                            path("payload.json5"), "--output", path("b")])
        #expect(zero.status != 0 && zero.output.contains("--counter: must be at least 1"), "\(zero.output)")
        let mismatch = try run(["sign", "--key", path("operator.key"), "--counter", "1", "--device-id", "BE-PZ2-0002",
                                path("payload.json5"), "--output", path("b")])
        #expect(mismatch.status != 0 && mismatch.output.contains("device.id is \"BE-PZ2-0001\" but --device-id is \"BE-PZ2-0002\""))
        try write("broken.json5", "{ alarm: ")
        let broken = try run(["sign", "--key", path("operator.key"), "--counter", "1", "--device-id", "BE-PZ2-0001",
                              path("broken.json5"), "--output", path("b")])
        #expect(broken.status != 0 && broken.output.contains("not a JSON5 document"), "\(broken.output)")
        // The public key is not a private key, and a private key readable by others is refused.
        let wrongKey = try run(["sign", "--key", path("operator.pub"), "--counter", "1", "--device-id", "BE-PZ2-0001",
                                path("payload.json5"), "--output", path("b")])
        #expect(wrongKey.status != 0 && wrongKey.output.contains("is readable by others"), "\(wrongKey.output)")
        try scratch.directory.replaceAtomically("public-copy.key", with: try read("operator.pub"))  // owner-only
        let publicAsPrivate = try run(["sign", "--key", path("public-copy.key"), "--counter", "1", "--device-id", "BE-PZ2-0001",
                                       path("payload.json5"), "--output", path("b")])
        #expect(publicAsPrivate.status != 0 && publicAsPrivate.output.contains("not an operator key file of this kind"),
                "\(publicAsPrivate.output)")
        #expect(access(path("b"), F_OK) != 0, "nothing was written")
    }

    @Test func verifyAndShowRefuseWhatIsNotABundle() throws {
        _ = try run(["keygen", "--private", path("operator.key"), "--public", path("operator.pub")])
        try write("junk", "hello\n")
        let verify = try run(["verify", "--operator-key", path("operator.pub"), path("junk")])
        #expect(verify.status != 0)
        #expect(verify.output.split(separator: "\n").count == 1 && verify.output.contains("not a provisioning bundle"), "\(verify.output)")
        let show = try run(["show", path("absent")])
        #expect(show.status != 0 && show.output.contains("does not exist"))
    }
}
