import AlarmCore
import CentreSMS
import HAL
import Logging
import Synchronization

/// Turns SMS into centre commands, and everything else into one log line: only from the centre's numbers, only
/// with a valid MAC under this device's key, only with a counter above every one accepted before (persisted, so a
/// replayed SMS does nothing even after a restart).
public final class SMSCommandGate: Sendable {
    static let counterRecord = "sms-command-counter"

    let deviceID: String
    let key: SMSKey
    let centreNumbers: Set<String>
    let store: any RecordStore
    let logger: Logger
    let post: @Sendable (CentreCommand) -> Void
    let lastCounter: Mutex<UInt64>

    public init(deviceID: String, key: SMSKey, centreNumbers: [String], store: any RecordStore, logger: Logger,
         post: @escaping @Sendable (CentreCommand) -> Void) {
        self.deviceID = deviceID
        self.key = key
        self.centreNumbers = Set(centreNumbers.map(Self.normalised))
        self.store = store
        self.logger = logger
        self.post = post
        var last: UInt64 = 0
        if let bytes = try? store.load(Self.counterRecord), let value = UInt64(String(decoding: bytes, as: UTF8.self)) { last = value }
        lastCounter = Mutex(last)
    }

    /// Numbers compare without spaces; a national 0… form is not guessed into +32… (the board lists what the network shows).
    static func normalised(_ number: String) -> String { number.filter { !$0.isWhitespace } }

    public func received(from sender: String, text: String) {
        guard centreNumbers.contains(Self.normalised(sender)) else {
            logger.notice("SMS from a number that is not the centre's ignored")
            return
        }
        let command: SMSCommand
        do {
            command = try lastCounter.withLock { last throws(SMSCommand.Rejection) -> SMSCommand in
                let command = try SMSCommand.verify(text, deviceID: deviceID, key: key, lastCounter: last)
                // Persisted before acting: a crash right after must not let the same SMS count again.
                do {
                    try store.save(Self.counterRecord, Array(String(command.counter).utf8))
                } catch {
                    logger.error("could not persist the command counter; acting on the command anyway",
                                 metadata: ["error": "\(error)"])
                }
                last = command.counter
                return command
            }
        } catch {
            logger.warning("centre SMS ignored", metadata: ["reason": "\(error)"])
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
}
