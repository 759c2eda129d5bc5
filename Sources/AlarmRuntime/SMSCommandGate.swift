import AlarmCore
import CentreSMS
import HAL
import Logging
import Synchronization

/// Turns SMS into centre commands: only from the centre's numbers, only with a valid MAC under this device's key,
/// only with a counter above every one accepted before and persisted before acting (so a replayed SMS does nothing
/// even after a restart), and `END` only with the alarm it ends. Every SMS has exactly one outcome: a command posted
/// to the core (which announces what it did with it) or a refusal, told to `refused` (the timeline) and the log.
public final class SMSCommandGate: Sendable {
    static let counterRecord = "sms-command-counter"

    let deviceID: String
    let key: SMSKey
    let centreNumbers: Set<String>
    let store: any RecordStore
    let logger: Logger
    let post: @Sendable (CentreCommand) -> Void
    let refused: @Sendable (String) -> Void
    let lastCounter: Mutex<UInt64>

    /// `refused`: why an SMS was not acted on, one call per refused SMS (the runtime's `centreCommandRefused`).
    public init(deviceID: String, key: SMSKey, centreNumbers: [String], store: any RecordStore, logger: Logger,
                refused: @escaping @Sendable (String) -> Void = { _ in },
                post: @escaping @Sendable (CentreCommand) -> Void) {
        self.deviceID = deviceID
        self.key = key
        self.centreNumbers = Set(centreNumbers.map(Self.normalised))
        self.store = store
        self.logger = logger
        self.post = post
        self.refused = refused
        var last: UInt64 = 0
        if let bytes = try? store.load(Self.counterRecord), let value = UInt64(String(decoding: bytes, as: UTF8.self)) { last = value }
        lastCounter = Mutex(last)
    }

    /// Numbers compare without spaces; a national 0… form is not guessed into +32… (the board lists what the network shows).
    static func normalised(_ number: String) -> String { number.filter { !$0.isWhitespace } }

    /// Why an SMS was refused.
    enum Refusal: Error, CustomStringConvertible {
        case notFromTheCentre(String)
        case rejected(SMSCommand.Rejection)
        case counterNotPersisted(String)

        var description: String {
            switch self {
            case .notFromTheCentre(let sender): "SMS from \(sender), not a centre number"
            case .rejected(let rejection): "\(rejection)"
            case .counterNotPersisted(let error): "the command counter could not be stored (\(error)); not acted on"
            }
        }
    }

    public func received(from sender: String, text: String) {
        let command: SMSCommand
        do throws(Refusal) {
            command = try verify(from: sender, text: text)
        } catch {
            logger.warning("centre SMS refused", metadata: ["reason": "\(error)"])
            refused("\(error)")
            return
        }
        let mapped: CentreCommand = switch command.verb {
        case .endAlarm: CentreCommand(.endAlarm, alarmNumber: command.argument)
        case .position: CentreCommand(.positionNow)
        case .callBack: CentreCommand(.callBack, argument: command.argument ?? 1)
        case .selfTest: CentreCommand(.selfTest)
        }
        logger.notice("centre command by SMS", metadata: ["command": "\(mapped.action.rawValue)"])
        post(mapped)
    }

    private func verify(from sender: String, text: String) throws(Refusal) -> SMSCommand {
        guard centreNumbers.contains(Self.normalised(sender)) else { throw .notFromTheCentre(sender) }
        return try lastCounter.withLock { last throws(Refusal) -> SMSCommand in
            let command: SMSCommand
            do throws(SMSCommand.Rejection) {
                command = try SMSCommand.verify(text, deviceID: deviceID, key: key, lastCounter: last)
            } catch {
                throw .rejected(error)
            }
            // Persisted before acting: a crash right after must not let the same SMS count again. A command whose
            // counter cannot be stored is refused (the centre sees no effect and sends it again), and the counter in
            // memory stays where the stored one is.
            do {
                try store.save(Self.counterRecord, Array(String(command.counter).utf8))
            } catch {
                throw .counterNotPersisted("\(error)")
            }
            last = command.counter
            return command
        }
    }
}
