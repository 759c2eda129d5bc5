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
                completion(.failure(HALError(.rejected, "SMS refused: \(result)")))
            case .timedOut:
                completion(.failure(HALError(.timeout, "SMS got no answer")))
                checkHung()
            case .aborted:
                completion(.failure(HALError(.notReady, "modem went down while sending SMS")))
            }
        }
    }
}
