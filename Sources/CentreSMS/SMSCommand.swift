import AlarmCodecs
import Crypto
import FoundationEssentials

/// A command from the receiving centre by SMS:
///
///     ALC1 <device> <counter> <verb> [argument] <mac>
///
/// `mac` is the first 16 bytes of HMAC-SHA256 over everything before it (with the single space), in base64, under
/// the command key derived from the device's SMS key. `counter` must be higher than any counter accepted before
/// (persisted by the device), so a replayed SMS does nothing; the sender must be one of the centre's numbers.
public struct SMSCommand: Sendable, Hashable {
    public enum Verb: String, Sendable, Hashable, CaseIterable {
        /// End alarm N (the argument): a late command for an earlier alarm does not end the current one.
        case endAlarm = "END"
        /// Send the position now.
        case position = "POS"
        /// Call centre number N (1-based) for a listen-in: the device calls out, it never auto-answers.
        case callBack = "CALL"
        /// Run the self-test and report.
        case selfTest = "TEST"
    }

    public var deviceID: String
    public var counter: UInt64
    public var verb: Verb
    public var argument: Int?

    public init(deviceID: String, counter: UInt64, verb: Verb, argument: Int? = nil) {
        self.deviceID = deviceID
        self.counter = counter
        self.verb = verb
        self.argument = argument
    }

    public static let tag = "ALC1"

    public enum Rejection: Error, Hashable, Sendable, CustomStringConvertible {
        case notACommand
        case malformed
        case otherDevice
        case badMAC
        case replayed(counter: UInt64, last: UInt64)
        /// Authentic, but `END` without the alarm it ends: it would end whatever alarm happens to be active.
        case endWithoutAlarmNumber

        public var description: String {
            switch self {
            case .notACommand: "not a centre command"
            case .malformed: "malformed command"
            case .otherDevice: "command for another device"
            case .badMAC: "command not authentic (bad MAC)"
            case .replayed(let counter, let last): "replayed or stale command (counter \(counter), last accepted \(last))"
            case .endWithoutAlarmNumber: "END without an alarm number"
            }
        }
    }

    /// The length of the MAC on the wire: the first 16 bytes of the HMAC.
    public static let macLength = 16

    var signedText: String {
        "\(Self.tag) \(deviceID) \(counter) \(verb.rawValue)" + (argument.map { " \($0)" } ?? "")
    }

    /// The SMS text, as the centre sends it.
    public func text(key: SMSKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(signedText.utf8), using: key.commands)
        return signedText + " " + Data(Array(mac).prefix(Self.macLength)).base64EncodedString()
    }

    /// Checks a received text for this device: authentic, for us, newer than `lastCounter`.
    public static func verify(_ text: String, deviceID: String, key: SMSKey, lastCounter: UInt64) throws(Rejection) -> SMSCommand {
        let parsed: SMSCommandText
        do {
            parsed = try SMSCommandText.parse(text)
        } catch .notACommand {
            throw .notACommand
        } catch {
            throw .malformed
        }
        return try verify(parsed, deviceID: deviceID, key: key, lastCounter: lastCounter)
    }

    /// The checks on a parsed command. The MAC's length is checked here, not left to the parser: comparing over
    /// `zip` of a shorter MAC would accept a truncated (or empty) one.
    public static func verify(_ parsed: SMSCommandText, deviceID: String, key: SMSKey, lastCounter: UInt64) throws(Rejection) -> SMSCommand {
        guard let verb = Verb(rawValue: parsed.verb) else { throw .malformed }
        let command = SMSCommand(deviceID: parsed.deviceID, counter: parsed.counter, verb: verb, argument: parsed.argument)
        let expected = Array(HMAC<SHA256>.authenticationCode(for: Array(command.signedText.utf8), using: key.commands)).prefix(macLength)
        guard parsed.mac.count == macLength else { throw .badMAC }
        // Constant time: the comparison must not tell a forger how many bytes were right.
        var difference: UInt8 = 0
        for (a, b) in zip(expected, parsed.mac) { difference |= a ^ b }
        guard difference == 0 else { throw .badMAC }
        guard command.deviceID == deviceID else { throw .otherDevice }
        guard parsed.counter > lastCounter else { throw .replayed(counter: parsed.counter, last: lastCounter) }
        // After the MAC and the counter: only an authentic, fresh command learns what was wrong with it.
        if verb == .endAlarm, parsed.argument == nil { throw .endWithoutAlarmNumber }
        return command
    }
}
