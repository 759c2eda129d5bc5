import AlarmCodecs
import Crypto
import CryptoExtras

/// DC-09 encryption: AES-CBC with an all-zero IV and no padding scheme. The plaintext is
/// `pad|data][xdata]…_timestamp` (everything after the first `[`), where the pad makes it a whole number of blocks
/// and never contains `|`, `[` or `]`; the ciphertext travels as uppercase hex after the `[`.
public enum DC09Cipher {
    public enum CipherError: Error, Hashable, Sendable {
        case notHex
        case notWholeBlocks
        case cryptoFailure
        case notText
    }

    /// Pad characters: letters and digits only, so a receiver's "skip to the first |" finds our separator.
    static let padAlphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The encrypted body of `message`. `random` supplies the pad (injected so tests are repeatable).
    public static func encryptedBody<R: RandomNumberGenerator>(_ message: DC09Message, key: DC09Key,
                                                               using random: inout R) throws(CipherError) -> [UInt8] {
        let tail = Array(message.tail.utf8.dropFirst())  // after the "["
        // At least one pad byte: receivers expect something before the separator.
        let padLength = 16 - (tail.count + 1) % 16
        let pad = (0..<(padLength == 0 ? 16 : padLength)).map { _ in padAlphabet.randomElement(using: &random)! }
        let plaintext = pad + [UInt8(ascii: "|")] + tail
        let ciphertext: [UInt8]
        do {
            ciphertext = Array(try AES._CBC.encrypt(plaintext, using: key.key, iv: try AES._CBC.IV(ivBytes: zeroIV), noPadding: true))
        } catch {
            throw .cryptoFailure
        }
        return Array((message.head(encrypted: true) + "[").utf8) + hex(ciphertext)
    }

    /// Encrypts `text` (what follows the `[`, e.g. `]_12:00:00,11-29-2026` of an ACK) with a fresh pad, as uppercase hex.
    public static func encryptedTail<R: RandomNumberGenerator>(_ text: String, key: DC09Key, using random: inout R) throws(CipherError) -> [UInt8] {
        let tail = Array(text.utf8)
        let padLength = 16 - (tail.count + 1) % 16
        let pad = (0..<(padLength == 0 ? 16 : padLength)).map { _ in padAlphabet.randomElement(using: &random)! }
        do {
            return hex(Array(try AES._CBC.encrypt(pad + [UInt8(ascii: "|")] + tail, using: key.key,
                                                 iv: try AES._CBC.IV(ivBytes: zeroIV), noPadding: true)))
        } catch {
            throw .cryptoFailure
        }
    }

    /// The plaintext after the `[` of an encrypted body (pad and separator removed), e.g. `#1234|NHA]_12:00:00,…`.
    /// Accepts senders that omit the `|` (the pad then runs up to the first `#` or `]`).
    public static func decryptTail<S: StringProtocol>(hex text: S, key: DC09Key) throws(CipherError) -> String {
        let plaintext = try decryptBlocks(hex: text, key: key)
        guard plaintext.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw .notText }
        let text = String(decoding: plaintext, as: UTF8.self)
        if let bar = text.firstIndex(of: "|"), !text[..<bar].contains("[") && !text[..<bar].contains("]") && !text[..<bar].contains("#") {
            return String(text[text.index(after: bar)...])
        }
        if let start = text.firstIndex(where: { $0 == "#" || $0 == "]" }) { return String(text[start...]) }
        return text
    }

    /// The whole decrypted text (pad included) of hex ciphertext in whole AES blocks.
    public static func decryptBlocks<S: StringProtocol>(hex text: S, key: DC09Key) throws(CipherError) -> [UInt8] {
        guard let bytes = bytes(fromHex: text) else { throw .notHex }
        return try decryptBlocks(bytes, key: key)
    }

    static func decryptBlocks(_ bytes: [UInt8], key: DC09Key) throws(CipherError) -> [UInt8] {
        guard !bytes.isEmpty, bytes.count % 16 == 0 else { throw .notWholeBlocks }
        do {
            return Array(try AES._CBC.decrypt(bytes, using: key.key, iv: try AES._CBC.IV(ivBytes: zeroIV), noPadding: true))
        } catch {
            throw .cryptoFailure
        }
    }

    /// Opens a receiver's answer body (CRC and length checked) as an encrypted ACK for `account`: the clear head must
    /// be `"*ACK"SEQ` with our receiver, prefix and account; the ciphertext hex in whole blocks that decrypts with
    /// `key` to exactly an ACK's text (`DC09Acknowledgement.timestamp(ofPlaintext:)`). Replay, reflection, the
    /// timestamp window and the sequence are `DC09ACKGuard`'s to judge.
    public static func openACK(_ body: [UInt8], key: DC09Key, account: DC09Account) -> Result<DC09OpenedACK, DC09ACKRejection> {
        guard let head = DC09Acknowledgement.head(body) else { return .failure(.foreignHeader) }
        guard head.encrypted else { return .failure(.notEncrypted) }
        guard DC09Acknowledgement.isOurs(head, account: account) else { return .failure(.foreignHeader) }
        guard let ciphertext = bytes(fromHex: String(decoding: head.tail, as: UTF8.self)), !ciphertext.isEmpty,
              ciphertext.count % 16 == 0 else { return .failure(.malformedCiphertext) }
        guard let plaintext = try? decryptBlocks(ciphertext, key: key),
              let timestamp = DC09Acknowledgement.timestamp(ofPlaintext: plaintext) else { return .failure(.notAnACK) }
        return .success(DC09OpenedACK(sequence: head.sequence, timestamp: timestamp, ciphertext: head.tail))
    }

    /// The ciphertext (hex, after the first `[`) of an encrypted body we built: what a reflection would carry.
    public static func ciphertext(ofBody body: [UInt8]) -> [UInt8] {
        guard let open = body.firstIndex(of: UInt8(ascii: "[")) else { return [] }
        return Array(body[(open + 1)...])
    }

    static let zeroIV = [UInt8](repeating: 0, count: 16)

    static func hex(_ bytes: [UInt8]) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return out
    }

    static func bytes<S: StringProtocol>(fromHex text: S) -> [UInt8]? {
        guard text.utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var iterator = text.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = high.hexDigitValue, let l = low.hexDigitValue else { return nil }
            out.append(UInt8(h << 4 | l))
        }
        return out
    }
}
