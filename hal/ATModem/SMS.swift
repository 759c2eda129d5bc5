import AlarmCodecs
import AlarmCore
import HAL
import Synchronization

extension ATModemDriver {
    /// PDU mode (AT+CMGF=0 at start-up): AT+CMGS=<TPDU length>, wait for "> ", PDU hex and Ctrl-Z.
    /// A long text goes as concatenated parts; success means the network accepted every part.
    public func send(text: String, to number: String, completion: @escaping @Sendable (Result<Void, HALError>) -> Void) {
        // The concatenation reference tells the parts of one message from those of the next.
        let reference = state.withLock { state -> UInt8 in
            state.smsReference &+= 1
            return state.smsReference
        }
        let parts: [SMSSubmitPDU]
        do {
            parts = try SMSPDU.submit(to: number, text: text, reference: reference)
        } catch {
            completion(.failure(HALError(.rejected, "SMS not encodable: \(error)")))
            return
        }
        guard phase == .ready else {
            completion(.failure(HALError(.notReady, "modem not ready for SMS")))
            return
        }
        sendParts(parts[...], completion: completion)
    }

    private func sendParts(_ parts: ArraySlice<SMSSubmitPDU>, completion: @escaping @Sendable (Result<Void, HALError>) -> Void) {
        guard let part = parts.first else {
            completion(.success(()))
            return
        }
        let command = ATCommand("AT+CMGS=\(part.tpduLength)", expecting: ["+CMGS:"],
                                payload: Array(part.hex.utf8) + [0x1A], timeout: settings.smsTimeout)
        engine.submit(command) { [self] outcome in
            switch outcome {
            case .completed(let result, _) where result.isSuccess:
                sendParts(parts.dropFirst(), completion: completion)
            case .completed(let result, _):
                completion(.failure(HALError(Self.smsFailureKind(of: result), "SMS refused: \(result)")))
            case .timedOut:
                completion(.failure(HALError(.timeout, "SMS got no answer")))
                checkHung()
            case .aborted:
                completion(.failure(HALError(.notReady, "modem went down while sending SMS")))
            }
        }
    }

    /// A modem without network service refuses AT+CMGS with +CMS ERROR 331 (or 330/332; verbose with
    /// AT+CMEE=2): that is "not possible right now, retry later" (.notReady), not a refusal of this message —
    /// the core must keep the SMS for when registration returns rather than give up on it.
    static func smsFailureKind(of result: ATFinalResult) -> FaultKind {
        guard case .cmsError(let code, let text) = result else { return .rejected }
        let verbose = text.lowercased()
        if [330, 331, 332].contains(code ?? -1) || verbose.contains("no network service")
            || verbose.contains("network timeout") || verbose.contains("smsc address unknown") {
            return .notReady
        }
        return .rejected
    }
}
