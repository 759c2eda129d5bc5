import AlarmCodecs
import AlarmCore
import HAL

extension ATModemDriver {
    /// Incoming SMS (sender, text), after the driver has read and deleted them. The caller decides whether they
    /// mean anything: the driver trusts no sender.
    public func onIncomingSMS(_ sink: @escaping @Sendable (String, String) -> Void) {
        smsSink.withLock { $0 = sink }
    }

    /// After every start: messages that arrived while the modem was down, or before +CNMI was set, are read now.
    func readStoredMessages(generation: Int) {
        engine.submit(ATCommand("AT+CMGL=4", expecting: ["+CMGL:"], bareLines: true, timeout: .seconds(20), priority: .background)) {
            [self] outcome in
            guard current(generation), case .completed(let result, let lines) = outcome, result.isSuccess else { return }
            var index: Int?
            for line in lines {
                if let listed = StoredMessage.listedIndex(line) {
                    index = listed
                } else if let current = index, let pdu = StoredMessage.pdu(line) {
                    deliver(pdu: pdu, index: current)
                    index = nil
                }
            }
        }
    }

    /// +CMTI: read that message, hand it on, delete it.
    func readMessage(index: Int) {
        engine.submit(ATCommand("AT+CMGR=\(index)", expecting: ["+CMGR:"], bareLines: true, timeout: .seconds(10), priority: .background)) {
            [self] outcome in
            guard case .completed(let result, let lines) = outcome, result.isSuccess else {
                logger.warning("incoming SMS could not be read", metadata: ["index": "\(index)"])
                return
            }
            guard let pdu = lines.lazy.filter({ !StoredMessage.isReadHeader($0) }).compactMap(StoredMessage.pdu).first else { return }
            deliver(pdu: pdu, index: index)
        }
    }

    func deliver(pdu: String, index: Int) {
        do {
            let message = try SMSPDU.decodeDeliver(hex: pdu)
            smsSink.withLock { $0 }?(message.number, message.text)
        } catch {
            logger.warning("incoming SMS not decodable, deleted", metadata: ["index": "\(index)", "error": "\(error)"])
        }
        // Deleted whatever it said: the SIM holds few messages, and a full SIM refuses the next (perhaps the centre's).
        engine.submit(ATCommand("AT+CMGD=\(index)", timeout: .seconds(10), priority: .background))
    }
}
