/// What the daemon does with the provisioning bundle at start.
public enum ProvisioningDecision: Sendable, Hashable, CustomStringConvertible {
    /// Run on this bundle. When `fresh`, keep its bytes as the last verified bundle (durably) before acting on it.
    case use(VerifiedBundle, Freshness)
    /// The candidate is refused; run on the last verified bundle, and say why the candidate was not taken.
    case keepLastVerified(VerifiedBundle, candidateRefused: BundleProblem)
    /// No verified bundle at all: do not start. `candidate` says what was wrong with the bundle on disk and
    /// `lastVerified` why the kept copy could not be used (`.missing` when there is none).
    case refuseToStart(candidate: BundleProblem, lastVerified: BundleProblem)

    public enum Freshness: Sendable, Hashable {
        /// Newer than the last verified bundle (or the first one): record it as the last verified.
        case fresh
        /// The same signed contents as the last verified bundle.
        case sameAsLastVerified
    }

    /// The bundle to run on, if any.
    public var bundle: VerifiedBundle? {
        switch self {
        case .use(let bundle, _), .keepLastVerified(let bundle, _): bundle
        case .refuseToStart: nil
        }
    }

    /// True when the daemon must store the bundle's bytes as its last verified bundle before running on it.
    public var recordsNewLastVerified: Bool {
        if case .use(_, .fresh) = self { return true }
        return false
    }

    /// One line for the log (and, when refusing to start, for the operator).
    public var description: String {
        switch self {
        case .use(let bundle, .fresh):
            "provisioning bundle \(bundle.digest.short) (counter \(bundle.counter), device \(bundle.deviceID)) verified: using it"
        case .use(let bundle, .sameAsLastVerified):
            "provisioning bundle \(bundle.digest.short) (counter \(bundle.counter), device \(bundle.deviceID)) unchanged: using it"
        case .keepLastVerified(let bundle, let problem):
            "provisioning bundle refused (\(problem)); still running on the last verified one, \(bundle.digest.short) (counter \(bundle.counter))"
        case .refuseToStart(let candidate, .missing):
            "no verified provisioning bundle, not starting: \(candidate)"
        case .refuseToStart(let candidate, let lastVerified):
            "no verified provisioning bundle, not starting: \(candidate); the kept last verified bundle is refused too (\(lastVerified))"
        }
    }

    /// The daemon's rules, pure: no file, no clock.
    ///
    /// - candidate: the bundle file's bytes, nil when there is none.
    /// - lastVerified: the bytes the daemon kept after it last verified a bundle, nil when none. They are verified
    ///   again: they live on the same card as everything else.
    /// - operatorKey: the operator's public key as installed with the firmware.
    /// - expectedDeviceID: the device's identity when it is known from outside the card's writable data (e.g. a
    ///   serial in OTP). Otherwise the last verified bundle's device id is expected: a device does not change
    ///   identity by a bundle swap.
    public static func decide(candidate: [UInt8]?, lastVerified: [UInt8]?, operatorKey: OperatorPublicKey,
                              expectedDeviceID: String?) -> ProvisioningDecision {
        let kept: Result<VerifiedBundle, BundleProblem>
        if let lastVerified {
            kept = Result { () throws(BundleProblem) in
                try ProvisioningBundle.verify(lastVerified, operatorKey: operatorKey, expectedDeviceID: expectedDeviceID)
            }
        } else {
            kept = .failure(.missing)
        }
        let keptBundle = try? kept.get()

        let offered: Result<VerifiedBundle, BundleProblem>
        if let candidate {
            offered = Result { () throws(BundleProblem) in
                try ProvisioningBundle.verify(candidate, operatorKey: operatorKey,
                                              expectedDeviceID: expectedDeviceID ?? keptBundle?.deviceID)
            }
        } else {
            offered = .failure(.missing)
        }

        switch (offered, kept) {
        case (.failure(let problem), .success(let last)):
            return .keepLastVerified(last, candidateRefused: problem)
        case (.failure(let problem), .failure(let keptProblem)):
            return .refuseToStart(candidate: problem, lastVerified: keptProblem)
        case (.success(let new), .failure):
            return .use(new, .fresh)
        case (.success(let new), .success(let last)):
            if new.counter > last.counter { return .use(new, .fresh) }
            if new.counter < last.counter {
                return .keepLastVerified(last, candidateRefused: .rollback(counter: new.counter, lastVerified: last.counter))
            }
            if new.digest == last.digest { return .use(new, .sameAsLastVerified) }
            return .keepLastVerified(last, candidateRefused: .counterReused(counter: new.counter))
        }
    }
}
