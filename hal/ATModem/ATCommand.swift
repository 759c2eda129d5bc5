import AlarmCodecs

/// Call control jumps ahead of everything else: a dial must never wait behind a status poll or an SMS.
public enum ATPriority: Int, Sendable, Comparable {
    case callControl = 0
    case normal = 1
    case background = 2

    public static func < (a: ATPriority, b: ATPriority) -> Bool { a.rawValue < b.rawValue }
}

/// One command for the engine, with everything needed to tell its response lines from URCs.
public struct ATCommand: Sendable, Hashable {
    /// The command without its terminating CR, e.g. "AT+CSQ".
    public var text: String
    /// Prefixes of the intermediate lines that answer this command, e.g. ["+CSQ:"].
    public var responsePrefixes: [String]
    /// The command answers with lines without a prefix (AT+CGSN → the IMEI digits).
    public var acceptsBareLines: Bool
    /// Bytes to send after the "> " prompt (AT+CMGS: the PDU hex followed by Ctrl-Z).
    public var payload: [UInt8]?
    public var timeout: Duration
    public var priority: ATPriority
    /// ATD / ATA: NO CARRIER, BUSY, NO ANSWER, NO DIALTONE are this command's final result, not URCs.
    public var isCallSetup: Bool
    /// A late answer to this command could complete the next one, so a timeout makes the engine resync.
    /// Probes ("AT" while waiting for a modem to come up) opt out: any late OK just means "alive".
    public var resyncAfterTimeout: Bool
    /// What logs may show of this command (a PIN never reaches a log).
    public var logText: String

    public init(_ text: String, expecting responsePrefixes: [String] = [], bareLines: Bool = false,
                payload: [UInt8]? = nil, timeout: Duration = .seconds(5), priority: ATPriority = .normal,
                isCallSetup: Bool = false, resyncAfterTimeout: Bool = true) {
        self.resyncAfterTimeout = resyncAfterTimeout
        logText = text
        self.text = text
        self.responsePrefixes = responsePrefixes
        acceptsBareLines = bareLines
        self.payload = payload
        self.timeout = timeout
        self.priority = priority
        self.isCallSetup = isCallSetup
    }
}

public enum ATOutcome: Sendable, Hashable {
    /// The final result and the intermediate lines collected for this command, in order.
    case completed(ATFinalResult, lines: [String])
    case timedOut
    /// The port closed or the modem restarted before the command finished.
    case aborted

    public var isSuccess: Bool {
        if case .completed(let result, _) = self { return result.isSuccess }
        return false
    }

    public var lines: [String] {
        if case .completed(_, let lines) = self { return lines }
        return []
    }
}
