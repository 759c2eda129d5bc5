import AlarmCore

/// Why an answer that claims to be an ACK does not count. One reason per check, so the link can log each kind once.
public enum DC09ACKRejection: String, Sendable, Hashable, CaseIterable, Error {
    /// A clear `"ACK"` on a link that encrypts: anyone on the path can write one.
    case notEncrypted = "not encrypted"
    /// The clear header is not an ACK's, or names another receiver, prefix or account.
    case foreignHeader = "header not ours"
    /// The encrypted part is not hex in whole AES blocks.
    case malformedCiphertext = "ciphertext malformed"
    /// Decrypted with our key, the text is not what DC-09 specifies for an ACK (an event reflected back, a
    /// truncated frame, another key).
    case notAnACK = "plaintext is not an ACK"
    /// The ciphertext of one of our own frames, sent back.
    case reflection = "our own frame reflected"
    /// The ACK's timestamp is outside the window around our clock.
    case outsideWindow = "timestamp outside the window"
    /// Its sequence is not awaiting an answer.
    case notInFlight = "sequence not in flight"
    /// This exact ciphertext already came, and the frame it now names was sent too late for it to be its answer.
    case replay = "replayed ACK"
}

/// The shape of a receiver's ACK (SIA DC-09), as pure functions on bytes so they can be tested alone.
///
/// Clear head: `"*ACK"SEQ R<rcvr> L<prefix> #<acct> [` then the ciphertext as hex (or `"ACK"…[]` in clear).
/// Decrypted, the only text an ACK may carry is
///
///     pad ("|")? "]" ("[" ID content "]")* "_HH:MM:SS,MM-DD-YYYY"
///
/// - pad: 0–16 printable ASCII characters, none of `|`, `[`, `]`, `#` (pysiaalarm pads with `0`s, we and our receiver
///   with letters and digits). The pad only fills the first block, so it is never longer than one block; a longer
///   "pad" is what is left of a truncated frame.
/// - blocks: extended data, `[` + an uppercase letter + printable characters other than `[`/`]` + `]`; the
///   identifiers that carry an event's content (`X`, `Y`, `Z` position, `H` time of the event, `I` text) are an
///   event's shape, never an ACK's. pysiaalarm sends `[K<key>]` (a key change): its shape is accepted, its
///   content is never acted on.
/// - the timestamp, exactly 20 characters, and nothing after it.
public enum DC09Acknowledgement {
    public struct Head: Sendable, Hashable {
        public var encrypted: Bool
        public var sequence: Int
        /// The text between the sequence and `L` (e.g. `R1`; pysiaalarm writes `R0` or `None` when we sent none).
        public var receiverField: String
        public var prefix: String
        public var account: String
        /// Everything after the first `[`: hex when encrypted, `]`… when clear.
        public var tail: [UInt8]
    }

    /// Identifiers of extended-data blocks that describe an event; an ACK carrying one is an event's shape.
    public static let eventBlockIdentifiers: Set<UInt8> = Set("XYZHI".utf8)
    public static let maximumPad = 16

    /// The clear head of an ACK body (`DC09Frame.unwrap` checked CRC and length); nil when it is not an ACK's.
    public static func head(_ body: [UInt8]) -> Head? {
        var i = body.startIndex
        func take(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            guard body.count - i >= bytes.count, Array(body[i..<i + bytes.count]) == bytes else { return false }
            i += bytes.count
            return true
        }
        let encrypted: Bool
        if take("\"*ACK\"") { encrypted = true } else if take("\"ACK\"") { encrypted = false } else { return nil }
        guard body.count - i >= 4, body[i..<i + 4].allSatisfy(isDigit) else { return nil }
        let sequence = Int(String(decoding: body[i..<i + 4], as: UTF8.self))!
        i += 4
        guard let open = body[i...].firstIndex(of: UInt8(ascii: "[")) else { return nil }
        let header = body[i..<open]
        guard let l = header.firstIndex(of: UInt8(ascii: "L")), let hash = header.firstIndex(of: UInt8(ascii: "#")), l < hash else { return nil }
        let receiverField = String(decoding: header[..<l], as: UTF8.self)
        let prefix = header[(l + 1)..<hash], account = header[(hash + 1)...]
        guard !prefix.isEmpty, prefix.allSatisfy(isHex), !account.isEmpty, account.allSatisfy(isHex) else { return nil }
        return Head(encrypted: encrypted, sequence: sequence, receiverField: receiverField,
                    prefix: String(decoding: prefix, as: UTF8.self), account: String(decoding: account, as: UTF8.self),
                    tail: Array(body[(open + 1)...]))
    }

    /// Whether the head addresses us: account and prefix equal ours (hex, any case); the receiver equal ours when we
    /// name one (`R` + number), and when we do not, anything a receiver writes for "none" (nothing, `R0`, `None`).
    public static func isOurs(_ head: Head, account: DC09Account) -> Bool {
        guard head.account.uppercased() == account.account.uppercased(),
              head.prefix.uppercased() == account.prefix.uppercased() else { return false }
        if let receiver = account.receiver {
            return head.receiverField.uppercased() == "R" + receiver.uppercased()
        }
        return ["", "R0", "None", "RNone"].contains(head.receiverField)
    }

    /// The ACK's timestamp when `plaintext` (the whole decrypted text, pad included) is exactly an ACK's; else nil.
    public static func timestamp(ofPlaintext plaintext: [UInt8]) -> WallTime? {
        guard plaintext.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        let bar = UInt8(ascii: "|"), open = UInt8(ascii: "["), close = UInt8(ascii: "]"), hash = UInt8(ascii: "#")
        // pad: up to the first "|" or "]", never containing "[" or "#".
        guard let padEnd = plaintext.firstIndex(where: { $0 == bar || $0 == close || $0 == open || $0 == hash }),
              padEnd <= maximumPad else { return nil }
        var i = padEnd
        if plaintext[i] == bar { i += 1 }
        guard i < plaintext.count, plaintext[i] == close else { return nil }
        i += 1
        // extended data blocks
        while i < plaintext.count, plaintext[i] == open {
            guard i + 1 < plaintext.count, (0x41...0x5A).contains(plaintext[i + 1]),
                  !eventBlockIdentifiers.contains(plaintext[i + 1]),
                  let end = plaintext[(i + 1)...].firstIndex(where: { $0 == open || $0 == close }),
                  plaintext[end] == close else { return nil }
            i = end + 1
        }
        // the timestamp, and nothing after it
        guard plaintext.count - i == 20, plaintext[i] == UInt8(ascii: "_") else { return nil }
        return DC09Timestamp.parse(String(decoding: plaintext[i...], as: UTF8.self))
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66) }
}

/// An encrypted ACK that opened with our key and has an ACK's shape, header and timestamp (see
/// `DC09Cipher.openACK`); whether it counts is `DC09ACKGuard`'s decision.
public struct DC09OpenedACK: Sendable, Hashable {
    public var sequence: Int
    public var timestamp: WallTime
    /// The ciphertext as it travelled (hex, uppercased): what replay and reflection are recognised by.
    public var ciphertext: [UInt8]

    public init(sequence: Int, timestamp: WallTime, ciphertext: [UInt8]) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.ciphertext = ciphertext
    }
}

/// The link's memory for judging encrypted ACKs: the ciphertexts of our own recent frames (a frame sent back as an
/// ACK is a reflection), and of every ACK received recently with when it first came (replay).
///
/// Replay rule: DC-09 does not put the sequence inside the encrypted part, and a receiver with a fixed pad
/// (pysiaalarm pads with `0`s) answers two frames in the same second with the same ciphertext. So an already seen
/// ciphertext still counts for a *different* in-flight sequence only when that frame's last transmission was less
/// than one second (the timestamp's resolution) after the ciphertext first arrived: a receiver creates its answer
/// after receiving the frame, so a frame sent later than that cannot have this answer, whatever the clocks' skew.
public struct DC09ACKGuard: Sendable {
    struct Seen: Sendable {
        var at: Int64
        var sequences: Set<Int>
    }

    /// ACK timestamps are accepted from this far before our clock (ms) …
    public var windowPast: Int64
    /// … to this far after it (ms).
    public var windowFuture: Int64
    /// How long ciphertexts are remembered (ms); past that a copy is outside the timestamp window anyway.
    var memory: Int64 { windowPast + windowFuture + 2000 }
    var own: [[UInt8]: Int64] = [:]
    var seen: [[UInt8]: Seen] = [:]
    static let capacity = 256

    public init(windowPast: Duration = .seconds(40), windowFuture: Duration = .seconds(40)) {
        self.windowPast = windowPast.milliseconds
        self.windowFuture = windowFuture.milliseconds
    }

    /// One of our frames went out with this ciphertext (hex) at `now` (monotonic ms).
    public mutating func sent(ciphertext: [UInt8], now: Int64) {
        prune(now)
        own[ciphertext.uppercasedHex] = now
    }

    /// Nil: the ACK counts for its sequence. `utc`: our clock (UTC ms, NAK correction included); `now`: monotonic
    /// ms; `lastTransmitted`: when the frame it names last went out (monotonic ms), nil when it is not in flight.
    public mutating func judge(_ ack: DC09OpenedACK, utc: Int64, now: Int64, lastTransmitted: Int64?) -> DC09ACKRejection? {
        prune(now)
        let ciphertext = ack.ciphertext.uppercasedHex
        if own[ciphertext] != nil { return .reflection }
        let stamp = ack.timestamp.millisecondsSince1970
        // The timestamp has whole seconds: one more second on the past side.
        guard stamp >= utc - windowPast - 1000, stamp <= utc + windowFuture else { return .outsideWindow }
        let earlier = seen[ciphertext]
        if earlier == nil {
            if seen.count >= Self.capacity, let oldest = seen.min(by: { $0.value.at < $1.value.at })?.key { seen[oldest] = nil }
            seen[ciphertext] = Seen(at: now, sequences: [])
        }
        guard let lastTransmitted else { return .notInFlight }
        if let earlier {
            guard !earlier.sequences.contains(ack.sequence), lastTransmitted < earlier.at + 1000 else { return .replay }
        }
        seen[ciphertext]?.sequences.insert(ack.sequence)
        return nil
    }

    var lastPrune: Int64?

    /// Forgets what is older than `memory`, at most once a second (entries live 80 s: a second more changes nothing).
    mutating func prune(_ now: Int64) {
        if let lastPrune, now - lastPrune < 1000, own.count <= Self.capacity { return }
        lastPrune = now
        own = own.filter { now - $0.value <= memory }
        if own.count > Self.capacity, let oldest = own.min(by: { $0.value < $1.value })?.key { own[oldest] = nil }
        seen = seen.filter { now - $0.value.at <= memory }
    }
}

extension Array where Element == UInt8 {
    var uppercasedHex: [UInt8] { map { $0 >= 0x61 && $0 <= 0x66 ? $0 - 0x20 : $0 } }
}
