import Crypto

/// A per-device DC-09 key. Receivers disagree on what the configured hex string means, so the board says:
/// `asciiHex` uses the 16/24/32 ASCII characters of the hex string themselves as key bytes (what common receivers,
/// pysiaalarm among them, do), `binaryHex` decodes the hex into 16/24/32 key bytes (what the standard intends).
public struct DC09Key: Sendable {
    public enum Encoding: String, Sendable, Hashable, CaseIterable {
        case asciiHex = "ascii-hex"
        case binaryHex = "binary-hex"
    }

    public enum KeyError: Error, Hashable, Sendable, CustomStringConvertible {
        case notHex
        case badLength(Int)

        public var description: String {
            switch self {
            case .notHex: "expected hexadecimal digits only"
            case .badLength(let n): "expected 32, 48 or 64 hex digits (binary-hex) or 16, 24 or 32 (ascii-hex), got \(n)"
            }
        }
    }

    let key: SymmetricKey
    public let bits: Int

    /// `text` is the key file's content (surrounding whitespace ignored). Never logged, never part of an error.
    public init(text: String, encoding: Encoding) throws(KeyError) {
        let hex = text.filter { !$0.isWhitespace }
        guard !hex.isEmpty, hex.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { throw .notHex }
        let bytes: [UInt8]
        switch encoding {
        case .asciiHex:
            guard [16, 24, 32].contains(hex.count) else { throw .badLength(hex.count) }
            bytes = Array(hex.utf8)
        case .binaryHex:
            guard [32, 48, 64].contains(hex.count) else { throw .badLength(hex.count) }
            var out: [UInt8] = []
            var iterator = hex.makeIterator()
            while let high = iterator.next(), let low = iterator.next() {
                out.append(UInt8(high.hexDigitValue! << 4 | low.hexDigitValue!))
            }
            bytes = out
        }
        key = SymmetricKey(data: bytes)
        bits = bytes.count * 8
    }
}
