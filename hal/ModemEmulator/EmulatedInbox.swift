import AlarmCodecs
import AlarmCore

/// SMS the scripted network delivers to the modem: stored in SIM memory ("SM"), announced with +CMTI when the
/// host asked for it (AT+CNMI=2,1), read with AT+CMGR / AT+CMGL in PDU mode, deleted with AT+CMGD.
struct EmulatedInbox {
    var messages: [Int: (pdu: String, read: Bool)] = [:]
    var announce = false
    var deleted = 0
    static let capacity = 30
}

extension ModemEmulator {
    func inboxCommand(_ body: String) -> Bool {
        switch body {
        case _ where body.hasPrefix("+CNMI="):
            let fields = body.dropFirst(6).split(separator: ",").map { Int($0) }
            state.withLock { $0.inbox.announce = fields.count >= 2 && fields[1] == 1 }
            respond([], final: "OK")
        case _ where body.hasPrefix("+CPMS"):
            let count = state.withLock { $0.inbox.messages.count }
            respond(["+CPMS: \(count),\(EmulatedInbox.capacity),\(count),\(EmulatedInbox.capacity),\(count),\(EmulatedInbox.capacity)"], final: "OK")
        case _ where body.hasPrefix("+CMGR="):
            guard let index = Int(body.dropFirst(6)) else {
                respond([], final: error("invalid index", code: 321, sms: true))
                return true
            }
            let message = state.withLock { state -> (pdu: String, read: Bool)? in
                guard let message = state.inbox.messages[index] else { return nil }
                state.inbox.messages[index]?.read = true
                return message
            }
            guard let message else {
                respond([], final: error("invalid memory index", code: 321, sms: true))
                return true
            }
            respond(["+CMGR: \(message.read ? 1 : 0),,\(message.pdu.count / 2 - 1)", message.pdu], final: "OK")
        case _ where body.hasPrefix("+CMGL="):
            let lines = state.withLock { state -> [String] in
                state.inbox.messages.keys.sorted().flatMap { index -> [String] in
                    let message = state.inbox.messages[index]!
                    state.inbox.messages[index]?.read = true
                    return ["+CMGL: \(index),\(message.read ? 1 : 0),,\(message.pdu.count / 2 - 1)", message.pdu]
                }
            }
            respond(lines, final: "OK")
        case _ where body.hasPrefix("+CMGD="):
            let index = Int(body.dropFirst(6).split(separator: ",").first ?? "")
            state.withLock { state in
                if let index, state.inbox.messages.removeValue(forKey: index) != nil { state.inbox.deleted += 1 }
            }
            respond([], final: "OK")
        default:
            return false
        }
        return true
    }

    /// The network delivers an SMS: stored, then announced with +CMTI. Returns false when the SIM memory is full.
    @discardableResult
    public func deliverSMS(from sender: String, text: String) -> Bool {
        guard let pdus = try? SMSPDU.deliver(from: sender, text: text, timestamp: clock.wallTime()) else { return false }
        var announcements: [Int] = []
        for pdu in pdus {
            let index = state.withLock { state -> Int? in
                guard let free = (1...EmulatedInbox.capacity).first(where: { state.inbox.messages[$0] == nil }) else { return nil }
                state.inbox.messages[free] = (pdu, false)
                return state.inbox.announce ? free : nil
            }
            if let index { announcements.append(index) }
        }
        note("-- SMS delivered from \(sender)")
        for index in announcements { send(urc: "+CMTI: \"SM\",\(index)") }
        return true
    }

    public var storedSMSCount: Int { state.withLock { $0.inbox.messages.count } }
    public var deletedSMSCount: Int { state.withLock { $0.inbox.deleted } }
}
