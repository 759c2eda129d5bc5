import Provisioning
import Testing

let operatorKey = OperatorPrivateKey.generate()
let payloadV1 = Array("""
    { device: { id: "BE-PZ2-0001" }, alarm: { centreNumbers: ["+3292000101"], triggerHold: "2s" } }

    """.utf8)
let payloadV2 = Array("""
    { device: { id: "BE-PZ2-0001" }, alarm: { centreNumbers: ["+3292000102"], triggerHold: "2s" } }

    """.utf8)

func signed(_ payload: [UInt8] = payloadV1, counter: UInt64, device: String = "BE-PZ2-0001",
            key: OperatorPrivateKey = operatorKey) throws -> [UInt8] {
    try ProvisioningBundle.sign(payload: payload, counter: counter, deviceID: device, with: key).encoded
}

func problem(_ bytes: [UInt8], device: String? = "BE-PZ2-0001") -> BundleProblem? {
    do {
        _ = try ProvisioningBundle.verify(bytes, operatorKey: operatorKey.publicKey, expectedDeviceID: device)
        return nil
    } catch {
        return error
    }
}

@Suite struct BundleTests {
    @Test func signedBundleVerifiesWithItsFieldsAndExactPayload() throws {
        let bytes = try signed(counter: 7)
        let verified = try ProvisioningBundle.verify(bytes, operatorKey: operatorKey.publicKey, expectedDeviceID: "BE-PZ2-0001")
        #expect(verified.counter == 7)
        #expect(verified.deviceID == "BE-PZ2-0001")
        #expect(verified.payload == payloadV1)
        #expect(verified.bundle.signer == operatorKey.publicKey)
        #expect(verified.encoded == bytes, "a parsed bundle encodes to the same bytes (one byte form per bundle)")
        #expect(verified.digest.full.count == 64)
        #expect(verified.digest.full.hasPrefix(verified.digest.short) && verified.digest.short.count == 16)
        // Without an expected id any device's bundle verifies; the decision supplies one when it knows it.
        #expect(problem(bytes, device: nil) == nil)
    }

    @Test func theEnvelopeIsReadableText() throws {
        let text = String(decoding: try signed(counter: 3), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "stalking-alarm-provisioning 1")
        #expect(lines[1] == "counter 3")
        #expect(lines[2] == "device-id BE-PZ2-0001")
        #expect(lines[3].hasPrefix("signer ") && lines[3].count == "signer ".count + 64)
        #expect(lines[4] == "payload \(payloadV1.count)")
        #expect(text.contains(String(decoding: payloadV1, as: UTF8.self)))
        #expect(lines[lines.count - 2].hasPrefix("signature ") && lines.last == "")
    }

    /// Every single bit flip, in the header, the payload or the signature, is refused.
    @Test func oneFlippedBitAnywhereIsRefused() throws {
        let bytes = try signed(counter: 5)
        for index in bytes.indices {
            for bit in [0, 5] {
                var damaged = bytes
                damaged[index] ^= UInt8(1 << bit)
                let refusal = problem(damaged)
                #expect(refusal != nil, "flipping bit \(bit) of byte \(index) ('\(UnicodeScalar(bytes[index]))') was accepted")
            }
        }
    }

    @Test func anEditedFieldOrPayloadOfTheSameLengthIsABadSignature() throws {
        let bytes = try signed(counter: 5)
        #expect(problem(bytes.replacing("+3292000101", "+3292000109")) == .badSignature)
        #expect(problem(bytes.replacing("counter 5", "counter 6")) == .badSignature)
        #expect(problem(bytes.replacing("device-id BE-PZ2-0001", "device-id BE-PZ2-0002"), device: nil) == .badSignature)
        var signatureEdited = bytes
        signatureEdited[bytes.count - 2] = signatureEdited[bytes.count - 2] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(problem(signatureEdited) == .badSignature)
    }

    @Test func aForeignSignerIsRefusedByItsFingerprint() throws {
        let stranger = OperatorPrivateKey.generate()
        let bytes = try signed(counter: 9, key: stranger)
        #expect(problem(bytes) == .foreignSigner(fingerprint: stranger.publicKey.shortFingerprint))
        #expect(BundleProblem.foreignSigner(fingerprint: "ab").description.contains("foreign key"))
    }

    @Test func aBundleForAnotherDeviceIsRefused() throws {
        let bytes = try signed(counter: 2, device: "BE-PZ2-0002")
        #expect(problem(bytes) == .otherDevice(bundle: "BE-PZ2-0002", expected: "BE-PZ2-0001"))
    }

    @Test func signingRefusesBadInput() {
        #expect(throws: BundleProblem.malformed("counter: must be at least 1")) { try signed(counter: 0) }
        #expect(throws: BundleProblem.self) { try signed(counter: 1, device: "no spaces allowed") }
        #expect(throws: BundleProblem.self) { try signed([], counter: 1) }
        do {
            _ = try signed(Array(repeating: UInt8(ascii: "x"), count: 70_000), counter: 1)
            Issue.record("a 70 kB payload was signed")
        } catch {
            guard case .tooLarge = error as? BundleProblem else { Issue.record("\(error)"); return }
        }
    }

    @Test(arguments: [
        ("", "not a provisioning bundle"),
        ("\u{89}PNG\r\n", "not a provisioning bundle"),
        ("stalking-alarm-provisioning 2\ncounter 1\n", "format version 2 is not supported"),
        ("stalking-alarm-provisioning one\n", "the first line must be"),
        ("stalking-alarm-provisioning 1\r\ncounter 1\n", "printable ASCII"),
        ("stalking-alarm-provisioning 1\ncounter 01\n", "without leading zeros"),
        ("stalking-alarm-provisioning 1\ncounter 0\n", "from 1"),
        ("stalking-alarm-provisioning 1\ncounter 18446744073709551616\n", "counter"),
        ("stalking-alarm-provisioning 1\ndevice-id X\n", "expected the line \"counter …\""),
        ("stalking-alarm-provisioning 1\ncounter 1\ndevice-id a b\n", "device-id: expected 1-32"),
        ("stalking-alarm-provisioning 1\ncounter 1\ndevice-id A\nsigner " + String(repeating: "A", count: 64) + "\n", "signer: expected"),
        ("stalking-alarm-provisioning 1\ncounter 1", "without a line break"),
    ])
    func malformedInputGetsAClearError(input: String, says: String) {
        let refusal = problem(Array(input.utf8))
        #expect(refusal != nil)
        #expect(refusal.map { "\($0)" }?.contains(says) == true, "\(String(describing: refusal)) should say \(says)")
    }

    @Test func truncatedEditedOrExtendedBundlesAreMalformed() throws {
        let bytes = try signed(counter: 4)
        if case .malformed(let detail)? = problem(Array(bytes.dropLast(20))) { #expect(detail.contains("line break")) } else { Issue.record("truncated") }
        if case .malformed(let detail)? = problem(bytes + Array("extra\n".utf8)) { #expect(detail.contains("after the signature")) } else { Issue.record("extended") }
        // A payload that grew by a byte no longer fits its declared length.
        if case .malformed(let detail)? = problem(bytes.replacing("triggerHold: \"2s\"", "triggerHold: \"20s\"")) { #expect(detail.contains("payload")) } else { Issue.record("grown payload") }
        // Upper-case hex is a second spelling of the same signature: refused.
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[lines.count - 2] = "signature " + lines[lines.count - 2].dropFirst("signature ".count).uppercased()
        #expect(problem(Array(lines.joined(separator: "\n").utf8)) == .malformed("signature: expected 128 lower-case hex digits"))
    }

    @Test func oversizedInputIsRefusedBeforeParsing() {
        let huge = Array("stalking-alarm-provisioning 1\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: ProvisioningBundle.maximumSize)
        #expect(problem(huge) == .tooLarge(bytes: huge.count))
        #expect("\(BundleProblem.tooLarge(bytes: huge.count))".contains("too large"))
    }

    @Test func keyFilesRoundTripAndCannotBeMistakenForEachOther() throws {
        let publicText = operatorKey.publicKey.fileText
        #expect(publicText.hasPrefix("ed25519-public:") && publicText.count == "ed25519-public:".count + 65)
        #expect(try OperatorPublicKey(fileText: publicText) == operatorKey.publicKey)
        #expect(try OperatorPrivateKey(fileText: operatorKey.fileText).publicKey == operatorKey.publicKey)
        #expect(throws: OperatorKeyFileError.malformed(expected: "ed25519-public: and 64 lower-case hex digits")) {
            try OperatorPublicKey(fileText: operatorKey.fileText)
        }
        #expect(throws: OperatorKeyFileError.self) { try OperatorPrivateKey(fileText: publicText) }
        #expect(operatorKey.publicKey.fingerprint.count == 64)
    }
}

extension [UInt8] {
    /// The first occurrence of `target` replaced (the tests edit bundles as an aggressor with a text editor would).
    func replacing(_ target: String, _ replacement: String) -> [UInt8] {
        let needle = Array(target.utf8)
        guard let start = indices.first(where: { self[$0...].starts(with: needle) }) else {
            Issue.record("\(target) not found")
            return self
        }
        var out = self
        out.replaceSubrange(start..<start + needle.count, with: Array(replacement.utf8))
        return out
    }
}
