import Glibc
import PosixIO
import Provisioning
import Testing

@Suite struct FingerprintTests {
    let scratch: ScratchDirectory

    init() throws {
        scratch = try ScratchDirectory("provisioning-fingerprints")
    }

    func write(_ name: String, _ text: String) throws -> String { try scratch.write(name, text) }

    @Test func aFingerprintIsTheSHA256OfTheFileBytesInLowerCaseHex() throws {
        #expect(KeyFingerprint.of(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let path = try write("dc09.key", "abc")
        #expect(try KeyFingerprint.ofFile(at: path) == KeyFingerprint.of(Array("abc".utf8)))
        #expect(throws: KeyFileMismatch.Problem.missing) { try KeyFingerprint.ofFile(at: scratch.file("absent.key")) }
    }

    @Test func theCheckNamesEachKeyThatDoesNotMatch() throws {
        let dc09 = try write("dc09.key", "00112233445566778899aabbccddeeff\n")
        let sms = try write("sms.key", "replaced by someone\n")
        let storage = try write("storage.key", "extra key file\n")
        let expected = [
            "reporting.keyFile": KeyFingerprint.of(Array("00112233445566778899aabbccddeeff\n".utf8)),
            "reporting.smsKeyFile": KeyFingerprint.of(Array("the provisioned sms key\n".utf8)),
            "evidence.centreKeyFile": KeyFingerprint.of(Array("centre key\n".utf8)),
        ]
        let mismatches = KeyFingerprint.check(expected: expected, files: [
            "reporting.keyFile": dc09, "reporting.smsKeyFile": sms, "storageKey": storage,
        ])
        #expect(mismatches.map(\.key) == ["reporting.smsKeyFile", "storageKey", "evidence.centreKeyFile"])
        #expect(mismatches[0].problem == .differs(actual: KeyFingerprint.of(Array("replaced by someone\n".utf8))))
        #expect(mismatches[0].description.hasPrefix("reporting.smsKeyFile (\(sms)): does not match the provisioned fingerprint"))
        #expect(mismatches[1].problem == .notFingerprinted)
        #expect(mismatches[2].problem == .notNamedByBoard)
        #expect(KeyFingerprint.check(expected: ["reporting.keyFile": expected["reporting.keyFile"]!],
                                     files: ["reporting.keyFile": dc09]).isEmpty)
    }

    @Test func thePayloadsFingerprintsMirrorTheBoardsKeyFileKeys() throws {
        let payload = try ProvisioningPayload(Array("""
            // a comment, as in board files
            {
              device: { id: "BE-PZ2-0001" },
              alarm: { centreNumbers: ["+3292000101"], periodicTest: "24h" },
              fingerprints: {
                storageKey: "\(String(repeating: "a", count: 64))",
                reporting: { keyFile: "\(String(repeating: "b", count: 64))" },
                "evidence.centreKeyFile": "\(String(repeating: "c", count: 64))",
              },
            }
            """.utf8))
        #expect(payload.deviceID == "BE-PZ2-0001")
        #expect(payload.fingerprints == ["storageKey": String(repeating: "a", count: 64),
                                         "reporting.keyFile": String(repeating: "b", count: 64),
                                         "evidence.centreKeyFile": String(repeating: "c", count: 64)])
        #expect(payload.keyPaths.isSuperset(of: ["device.id", "alarm.centreNumbers", "alarm.periodicTest"]))
        #expect(throws: PayloadProblem.badFingerprint("fingerprints.storageKey")) {
            try ProvisioningPayload(Array("{ fingerprints: { storageKey: \"ABC\" } }".utf8))
        }
        #expect(throws: PayloadProblem.notAnObject) {
            try ProvisioningPayload(Array("[1, 2]".utf8))
        }
        #expect(throws: PayloadProblem.self) { try ProvisioningPayload(Array("{ alarm: ".utf8)) }
        #expect(throws: PayloadProblem.notUTF8) { try ProvisioningPayload([0x7b, 0xff, 0x7d]) }
    }

    /// The example an operator starts from reads, names its device and pins the four key files.
    @Test func theExamplePayloadPinsEveryKeyFileAndOwnsWhatDecidesWhereAnAlarmGoes() throws {
        let root = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/"))
        let bytes = try #require(try StorageDirectory.readFile(root + "/boards/provisioning/example-payload.json5"))
        let payload = try ProvisioningPayload(bytes)
        #expect(payload.deviceID == "BE-PZ2-0001")
        #expect(Set(payload.fingerprints.keys) == Set(ProvisionedKeys.fingerprintedKeyFiles))
        // The example's board (pi-zero2w-ec25) has no amplifier line, so its payload names none.
        for key in ProvisionedKeys.ownedKeys.filter({ $0 != "roles.amplifierEnable" }) + ["alarm.centreNumbers", "alarm.emergencyNumber", "alarm.smsNumber", "alarm.triggerHold",
                                                 "alarm.trackingDuration", "alarm.trackingInterval", "alarm.periodicTest",
                                                 "reporting.account", "reporting.prefix", "reporting.receiver"] {
            #expect(payload.keyPaths.contains(key), "\(key)")
        }
    }
}
