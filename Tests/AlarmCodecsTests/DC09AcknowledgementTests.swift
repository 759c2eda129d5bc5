import AlarmCodecs
import AlarmCore
import DC09
import Glibc
import Testing

/// The strict ACK check, fed bytes: shape of the plaintext, header, and the guard's replay/reflection/window rules.
@Suite struct DC09AcknowledgementTests {
    static let account = DC09Account(receiver: "1", prefix: "1", account: "A1234")
    static let key = try! DC09Key(text: "0123456789ABCDEF", encoding: .asciiHex)
    static let stamp = "_12:00:00,11-29-2026"
    static let time = DC09Timestamp.parse(stamp)!

    func padded(_ text: String, pad: Character = "0") -> [UInt8] {
        let n = (16 - text.utf8.count % 16) % 16
        return Array((String(repeating: pad, count: n == 0 ? 16 : n) + text).utf8)
    }

    @Test func acknowledgementShapes() {
        // pysiaalarm: a pad of 0s, no "|", a [K…] block it adds when the frame had extended data.
        #expect(DC09Acknowledgement.timestamp(ofPlaintext: padded("][K0123456789ABCDEF]" + Self.stamp)) == Self.time)
        #expect(DC09Acknowledgement.timestamp(ofPlaintext: padded("]" + Self.stamp)) == Self.time)
        // ours: letters and digits, then "|".
        #expect(DC09Acknowledgement.timestamp(ofPlaintext: Array("Ab3xYz9Qr01|]".utf8) + Array(Self.stamp.utf8).prefix(20)) != nil)
        // Never an ACK: an event, data before "]", an event's blocks, anything after the timestamp, a long "pad",
        // bytes that are not text, no timestamp.
        for text in ["0|#A1234|Nri1/HA]" + Self.stamp, "00#A1234]" + Self.stamp, "000|x]" + Self.stamp,
                     "]" + "[X+3.717400]" + Self.stamp, "][Idev=BE-1;alarm=1]" + Self.stamp, "]" + Self.stamp + "0",
                     String(repeating: "A", count: 17) + "]" + Self.stamp, "][K12" + Self.stamp, "]_12:00:00"] {
            #expect(DC09Acknowledgement.timestamp(ofPlaintext: Array(text.utf8)) == nil, "\(text)")
        }
        #expect(DC09Acknowledgement.timestamp(ofPlaintext: [0x01] + Array("]".utf8) + Array(Self.stamp.utf8)) == nil)
    }

    func ackBody(sequence: String = "0007", header: String = "R1L1#A1234", text: String = "]" + stamp) throws -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        return Array("\"*ACK\"\(sequence)\(header)[".utf8) + (try DC09Cipher.encryptedTail(text, key: Self.key, using: &random))
    }

    @Test func openingChecksHeaderKeyAndShape() throws {
        let opened = try DC09Cipher.openACK(try ackBody(), key: Self.key, account: Self.account).get()
        #expect(opened.sequence == 7 && opened.timestamp == Self.time)
        #expect(DC09Cipher.openACK(try ackBody(header: "R1L1#A9999"), key: Self.key, account: Self.account) == .failure(.foreignHeader))
        #expect(DC09Cipher.openACK(try ackBody(header: "R2L1#A1234"), key: Self.key, account: Self.account) == .failure(.foreignHeader))
        #expect(DC09Cipher.openACK(Array("\"ACK\"0007R1L1#A1234[]".utf8), key: Self.key, account: Self.account) == .failure(.notEncrypted))
        #expect(DC09Cipher.openACK(Array("\"*ACK\"0007R1L1#A1234[00FF".utf8), key: Self.key, account: Self.account) == .failure(.malformedCiphertext))
        let other = try DC09Key(text: "FEDCBA9876543210", encoding: .asciiHex)
        #expect(DC09Cipher.openACK(try ackBody(), key: other, account: Self.account) == .failure(.notAnACK))
        // Our own alarm frame with its id changed to *ACK (the reflection): it opens, but as an event.
        var random = SystemRandomNumberGenerator()
        let message = DC09Message(kind: .siaDCS, sequence: 7, account: Self.account, data: "#A1234|Nri1/HA",
                                  extended: ["X+3.717400", "Y+51.054300", "Idev=BE-1;alarm=1"], timestamp: Self.time)
        let frame = try DC09Cipher.encryptedBody(message, key: Self.key, using: &random)
        let reflected = Array("\"*ACK\"".utf8) + frame.dropFirst("\"*SIA-DCS\"".utf8.count)
        #expect(DC09Cipher.openACK(reflected, key: Self.key, account: Self.account) == .failure(.notAnACK))
        // Every block-aligned tail of that frame (a truncated ciphertext) is refused too.
        let hex = DC09Cipher.ciphertext(ofBody: frame)
        for start in stride(from: 32, to: hex.count, by: 32) {
            let truncated = Array("\"*ACK\"0007R1L1#A1234[".utf8) + hex[start...]
            #expect(DC09Cipher.openACK(truncated, key: Self.key, account: Self.account) == .failure(.notAnACK))
        }
    }

    @Test func guardRules() throws {
        let utc = Self.time.millisecondsSince1970
        var guardian = DC09ACKGuard()
        let ack = try DC09Cipher.openACK(try ackBody(), key: Self.key, account: Self.account).get()
        // Our own frame's ciphertext coming back.
        guardian.sent(ciphertext: ack.ciphertext, now: 0)
        #expect(guardian.judge(ack, utc: utc, now: 10, lastTransmitted: 0) == .reflection)
        guardian = DC09ACKGuard()
        #expect(guardian.judge(ack, utc: utc + 600_000, now: 10, lastTransmitted: 0) == .outsideWindow, "10 min old")
        #expect(guardian.judge(ack, utc: utc - 41_000, now: 10, lastTransmitted: 0) == .outsideWindow, "41 s ahead of us")
        #expect(guardian.judge(ack, utc: utc + 5_000, now: 100, lastTransmitted: nil) == .notInFlight)
        // Seen at 100 ms: the same ciphertext for another frame counts only if that frame went out before 1100 ms.
        var relabelled = ack
        relabelled.sequence = 8
        #expect(guardian.judge(relabelled, utc: utc + 5_000, now: 200, lastTransmitted: 900) == nil, "a receiver answering two frames in one second")
        relabelled.sequence = 9
        #expect(guardian.judge(relabelled, utc: utc + 5_000, now: 3000, lastTransmitted: 1200) == .replay)
        relabelled.sequence = 8
        #expect(guardian.judge(relabelled, utc: utc + 5_000, now: 3000, lastTransmitted: 900) == .replay, "taken once already for #8")
    }

    /// The cost of the check per ACK (open + judge), printed for docs/performance.md.
    @Test func costPerACK() throws {
        let body = try ackBody(text: "][K0123456789ABCDEF]" + Self.stamp)
        var guardian = DC09ACKGuard()
        for n in 0..<64 { guardian.sent(ciphertext: Array("\(n)".utf8), now: 0) }
        let rounds = 20_000
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let start = Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
        var accepted = 0
        for n in 0..<rounds {
            guard case .success(var ack) = DC09Cipher.openACK(body, key: Self.key, account: Self.account) else { continue }
            ack.sequence = n % 9999 + 1
            if guardian.judge(ack, utc: Self.time.millisecondsSince1970, now: 0, lastTransmitted: 0) == nil { accepted += 1 }
        }
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let elapsed = Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec) - start
        // What the link did before: decrypt to text, nothing else.
        let hex = String(decoding: DC09Cipher.ciphertext(ofBody: body), as: UTF8.self)
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let before = Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
        for _ in 0..<rounds { _ = try? DC09Cipher.decryptTail(hex: hex, key: Self.key) }
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let old = Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec) - before
        print("DC-09 ACK check: \(elapsed / Int64(rounds)) ns per ACK (open + judge, AES-128, 48-byte ciphertext); "
              + "the previous check (decrypt to text only): \(old / Int64(rounds)) ns")
        #expect(accepted > 0)
    }
}
