import AlarmCodecs
import AlarmCore
import DC09
import Testing

@Suite struct DC09CipherTests {
    let message = DC09Message(kind: .siaDCS, sequence: 17, account: DC09Account(receiver: "1", prefix: "1", account: "A1234"),
                              data: "#A1234|Nri1/HA", extended: ["X4.351721", "Y50.850346"],
                              timestamp: WallTime(millisecondsSince1970: 1_758_731_201_000))

    @Test(arguments: [("AAAAAAAAAAAAAAAA", DC09Key.Encoding.asciiHex), ("00112233445566778899AABBCCDDEEFF0011223344556677", .binaryHex),
                      ("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", .binaryHex)])
    func roundTripForEveryKeySize(keyText: String, encoding: DC09Key.Encoding) throws {
        let key = try DC09Key(text: keyText, encoding: encoding)
        var random = SplitMix64(seed: 7)
        let body = try DC09Cipher.encryptedBody(message, key: key, using: &random)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.hasPrefix("\"*SIA-DCS\"0017R1L1#A1234["))
        let hex = text.dropFirst("\"*SIA-DCS\"0017R1L1#A1234[".count)
        #expect(hex.count % 32 == 0)
        #expect(hex.allSatisfy { $0.isHexDigit && !$0.isLowercase })
        #expect(!text.contains("HA"), "the event must not travel in clear")
        #expect(try DC09Cipher.decryptTail(hex: hex, key: key) == String(message.tail.dropFirst()))
        // The whole thing frames like any other body.
        #expect(try DC09Frame.unwrap(try DC09Frame.wrap(body)) == body)
    }

    @Test func wrongKeyDoesNotDecryptToText() throws {
        let key = try DC09Key(text: "AAAAAAAAAAAAAAAA", encoding: .asciiHex)
        let other = try DC09Key(text: "BBBBBBBBBBBBBBBB", encoding: .asciiHex)
        var random = SplitMix64(seed: 1)
        let text = String(decoding: try DC09Cipher.encryptedBody(message, key: key, using: &random), as: UTF8.self)
        let hex = text[text.index(after: text.firstIndex(of: "[")!)...]
        #expect(throws: DC09Cipher.CipherError.self) { try DC09Cipher.decryptTail(hex: hex, key: other) }
        #expect(throws: DC09Cipher.CipherError.notHex) { try DC09Cipher.decryptTail(hex: "XYZ0", key: key) }
        #expect(throws: DC09Cipher.CipherError.notWholeBlocks) { try DC09Cipher.decryptTail(hex: "00FF", key: key) }
    }

    @Test func padIsFreshPerMessage() throws {
        let key = try DC09Key(text: "AAAAAAAAAAAAAAAA", encoding: .asciiHex)
        var random = SplitMix64(seed: 3)
        let a = try DC09Cipher.encryptedBody(message, key: key, using: &random)
        let b = try DC09Cipher.encryptedBody(message, key: key, using: &random)
        #expect(a != b, "identical messages must not give identical ciphertexts")
    }

    @Test func keysAreChecked() {
        #expect(throws: DC09Key.KeyError.badLength(15)) { try DC09Key(text: "AAAAAAAAAAAAAAA", encoding: .asciiHex) }
        #expect(throws: DC09Key.KeyError.notHex) { try DC09Key(text: "not a hex key at all!!", encoding: .asciiHex) }
        #expect(throws: DC09Key.KeyError.badLength(16)) { try DC09Key(text: "AAAAAAAAAAAAAAAA", encoding: .binaryHex) }
        #expect((try? DC09Key(text: " AAAAAAAAAAAAAAAA\n", encoding: .asciiHex))?.bits == 128)
        #expect((try? DC09Key(text: String(repeating: "0F", count: 32), encoding: .binaryHex))?.bits == 256)
    }
}
