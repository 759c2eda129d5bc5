import Provisioning
import Testing

/// The daemon's start-up rules, as `ProvisioningDecision.decide` implements them.
@Suite struct DecisionTests {
    func decide(_ candidate: [UInt8]?, _ lastVerified: [UInt8]?, expected: String? = nil) -> ProvisioningDecision {
        ProvisioningDecision.decide(candidate: candidate, lastVerified: lastVerified, operatorKey: operatorKey.publicKey,
                                    expectedDeviceID: expected)
    }

    @Test func theFirstBundleIsUsedAndRecorded() throws {
        let decision = decide(try signed(counter: 1), nil)
        guard case .use(let bundle, .fresh) = decision else { Issue.record("\(decision)"); return }
        #expect(bundle.counter == 1)
        #expect(decision.recordsNewLastVerified)
        #expect(decision.description.contains("verified: using it"))
    }

    @Test func aNewerBundleReplacesTheLastVerified() throws {
        let decision = decide(try signed(payloadV2, counter: 3), try signed(counter: 2))
        guard case .use(let bundle, .fresh) = decision else { Issue.record("\(decision)"); return }
        #expect(bundle.payload == payloadV2)
        #expect(decision.recordsNewLastVerified)
    }

    @Test func theSameBundleAgainIsUsedWithoutRecording() throws {
        let bytes = try signed(counter: 4)
        let decision = decide(bytes, bytes)
        #expect(decision.bundle?.counter == 4)
        guard case .use(_, .sameAsLastVerified) = decision else { Issue.record("\(decision)"); return }
        #expect(!decision.recordsNewLastVerified)
    }

    /// An aggressor copies back an older genuine bundle (say, from before the centre's number changed).
    @Test func anOlderGenuineBundleIsARollbackAndTheLastVerifiedStaysInUse() throws {
        let decision = decide(try signed(counter: 4), try signed(payloadV2, counter: 5))
        #expect(decision == .keepLastVerified(try ProvisioningBundle.verify(try signed(payloadV2, counter: 5),
                                                                           operatorKey: operatorKey.publicKey, expectedDeviceID: nil),
                                              candidateRefused: .rollback(counter: 4, lastVerified: 5)))
        #expect(decision.bundle?.payload == payloadV2)
        #expect(!decision.recordsNewLastVerified)
        #expect(decision.description.contains("rollback: counter 4 is older than the verified bundle's 5"))
    }

    @Test func theSameCounterWithDifferentContentsIsRefused() throws {
        let decision = decide(try signed(payloadV2, counter: 5), try signed(counter: 5))
        guard case .keepLastVerified(let kept, .counterReused(counter: 5)) = decision else { Issue.record("\(decision)"); return }
        #expect(kept.payload == payloadV1)
        #expect(decision.description.contains("must bump the counter"))
    }

    @Test func aMissingBundleKeepsTheLastVerified() throws {
        let decision = decide(nil, try signed(counter: 6))
        guard case .keepLastVerified(let kept, .missing) = decision else { Issue.record("\(decision)"); return }
        #expect(kept.counter == 6)
    }

    @Test func aMissingBundleWithNoneVerifiedRefusesToStartInOneLine() {
        let decision = decide(nil, nil)
        #expect(decision == .refuseToStart(candidate: .missing, lastVerified: .missing))
        #expect(decision.bundle == nil)
        #expect(decision.description == "no verified provisioning bundle, not starting: no provisioning bundle")
        #expect(!decision.description.contains("\n"))
    }

    @Test func everyRefusedCandidateKeepsTheLastVerified() throws {
        let last = try signed(counter: 2)
        let flipped = try signed(payloadV2, counter: 3).replacing("+3292000102", "+3292000103")
        let stranger = OperatorPrivateKey.generate()
        let cases: [([UInt8], BundleProblem)] = [
            (Array("not a bundle".utf8), .malformed("not a provisioning bundle (the first line must be \"stalking-alarm-provisioning 1\")")),
            (flipped, .badSignature),
            (try signed(payloadV2, counter: 3, key: stranger), .foreignSigner(fingerprint: stranger.publicKey.shortFingerprint)),
            // No id is given from outside: the last verified bundle's id is expected.
            (try signed(payloadV2, counter: 3, device: "BE-PZ2-0002"), .otherDevice(bundle: "BE-PZ2-0002", expected: "BE-PZ2-0001")),
        ]
        for (candidate, expected) in cases {
            let decision = decide(candidate, last)
            guard case .keepLastVerified(let kept, let refused) = decision else { Issue.record("\(decision)"); continue }
            #expect(kept.counter == 2)
            #expect(refused == expected)
        }
    }

    @Test func aBundleForAnotherDeviceIsRefusedWhenTheIdIsKnown() throws {
        let decision = decide(try signed(counter: 1, device: "BE-PZ2-0002"), nil, expected: "BE-PZ2-0001")
        #expect(decision == .refuseToStart(candidate: .otherDevice(bundle: "BE-PZ2-0002", expected: "BE-PZ2-0001"), lastVerified: .missing))
        #expect(decision.description.contains("made for device \"BE-PZ2-0002\", this device is \"BE-PZ2-0001\""))
    }

    /// The kept copy lives on the same card: an altered one is worth nothing, and says why.
    @Test func anAlteredLastVerifiedCopyIsNotTrusted() throws {
        let kept = try signed(payloadV2, counter: 9).replacing("+3292000102", "+3292000666")
        let withCandidate = decide(try signed(counter: 3), kept)
        guard case .use(let bundle, .fresh) = withCandidate else { Issue.record("\(withCandidate)"); return }
        #expect(bundle.counter == 3)
        let without = decide(nil, kept)
        #expect(without == .refuseToStart(candidate: .missing, lastVerified: .badSignature))
        #expect(without.description.contains("the kept last verified bundle is refused too (bad signature"))
    }
}
