import AlarmCodecs
import AlarmCore
import Crypto
import DC09
import FoundationEssentials

/// The per-device SMS key (64 hex digits in an owner-only file). Two keys are derived from it with HKDF-SHA256, so
/// the key that encrypts reports never also authenticates commands.
public struct SMSKey: Sendable {
    let reports: SymmetricKey
    let commands: SymmetricKey

    public enum KeyError: Error, Hashable, Sendable, CustomStringConvertible {
        case badFormat
        public var description: String { "expected 64 hex digits (a 256-bit key)" }
    }

    public init(text: String) throws(KeyError) {
        let hex = text.filter { !$0.isWhitespace }
        guard hex.count == 64, hex.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { throw .badFormat }
        var bytes: [UInt8] = []
        var iterator = hex.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            bytes.append(UInt8(high.hexDigitValue! << 4 | low.hexDigitValue!))
        }
        let master = SymmetricKey(data: bytes)
        reports = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Array("stalking-alarm sms reports v1".utf8), outputByteCount: 32)
        commands = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Array("stalking-alarm sms commands v1".utf8), outputByteCount: 32)
    }
}

/// The SMS that carries a report when IP cannot: compact, authenticated and encrypted (AES-256-GCM).
///
///     AL1 <device> <alarm> <sequence> <base64(nonce | ciphertext | tag)>
///
/// The clear header lets the centre drop duplicates across SMS and IP before decrypting; it is authenticated as
/// associated data. The sealed payload is binary (see `payload`).
public enum SMSReport {
    public static let tag = "AL1"

    public enum DecodeError: Error, Hashable, Sendable {
        case notOurs, malformed, notAuthentic
    }

    public struct Decoded: Sendable, Hashable {
        public var deviceID: String
        public var alarmNumber: Int
        public var sequence: Int
        public var fields: [String: String]
    }

    /// Sealing failed (swift-crypto refused; with a 32-byte key it does not, but an alarm path must not trap).
    public struct SealError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func encode(_ report: Report, deviceID: String, key: SMSKey, battery: Int? = nil, signal: Int? = nil) throws(SealError) -> String {
        let header = "\(tag) \(deviceID) \(report.alarmNumber) \(report.sequence)"
        let sealed: AES.GCM.SealedBox
        do {
            sealed = try AES.GCM.seal(payload(report, battery: battery, signal: signal), using: key.reports,
                                      authenticating: Array(header.utf8))
        } catch {
            throw SealError(description: "AES-GCM seal failed: \(error)")
        }
        // nonce | ciphertext | tag (always present with the default 12-byte nonce); base64 keeps to characters of
        // the GSM 7-bit default alphabet.
        guard let combined = sealed.combined else { throw SealError(description: "AES-GCM box without a combined form") }
        return header + " " + combined.base64EncodedString()
    }

    public static func decode(_ text: String, key: SMSKey) throws(DecodeError) -> Decoded {
        let parts = text.split(separator: " ")
        guard parts.first.map(String.init) == tag else { throw .notOurs }
        guard parts.count == 5, let alarm = Int(parts[2]), let sequence = Int(parts[3]),
              let combined = Data(base64Encoded: String(parts[4])) else { throw .malformed }
        let header = parts[0..<4].joined(separator: " ")
        let plain: Data
        do {
            plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: combined), using: key.reports, authenticating: Array(header.utf8))
        } catch {
            throw .notAuthentic
        }
        return Decoded(deviceID: String(parts[1]), alarmNumber: alarm, sequence: sequence, fields: try fields(Array(plain)))
    }

    /// The sealed payload, binary to stay within one SMS whatever the device id (docs/reporting.md), big-endian:
    /// SIA code (2 ASCII bytes); flags (bit 0 position, bits 1–2 source 0 GNSS / 1 last known / 2 cell, bit 3 cell);
    /// with a position: latitude and longitude (Int32, micro-degrees), radius (UInt16 m), fix time (UInt32 Unix s),
    /// age (UInt16 s); with a cell: MCC, MNC (UInt16), LAC/TAC, cell id (UInt32); battery %, signal 0–31 (UInt8,
    /// 255 unknown).
    static func payload(_ report: Report, battery: Int?, signal: Int?) -> [UInt8] {
        var out = Array(DC09EventCode.code(for: report.kind).sia.utf8.prefix(2))
        var flags: UInt8 = 0
        if let fix = report.position {
            flags |= 1
            flags |= (fix.source == .gnss ? 0 : fix.source == .lastKnown ? 1 : 2) << 1
        }
        if report.cell != nil { flags |= 8 }
        out.append(flags)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.bigEndian) { out += $0 } }
        if let fix = report.position {
            put(Int32((fix.latitude * 1_000_000).rounded()))
            put(Int32((fix.longitude * 1_000_000).rounded()))
            put(UInt16(fix.horizontalAccuracy.isFinite ? min(65_535, max(0, fix.horizontalAccuracy.rounded())) : 65_535))
            put(UInt32(clamping: fix.fixTime.millisecondsSince1970 / 1000))
            put(UInt16(clamping: report.positionAge?.components.seconds ?? 65_535))
        }
        if let cell = report.cell {
            put(UInt16(clamping: cell.mcc))
            put(UInt16(clamping: cell.mnc))
            put(UInt32(clamping: cell.areaCode))
            put(UInt32(clamping: cell.cellID))
        }
        out.append(UInt8(clamping: battery ?? 255))
        out.append(UInt8(clamping: signal ?? 255))
        return out
    }

    /// The payload as named text fields: k code, a/o latitude/longitude, r radius, t fix time, s source, g age,
    /// c cell, b battery, q signal.
    static func fields(_ bytes: [UInt8]) throws(DecodeError) -> [String: String] {
        var index = 0
        func take(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
            guard index + n <= bytes.count else { throw .malformed }
            defer { index += n }
            return bytes[index..<(index + n)]
        }
        func integer<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
            var value: T = 0
            for byte in try take(MemoryLayout<T>.size) { value = value << 8 | T(byte) }
            return value
        }
        var fields = ["k": String(decoding: try take(2), as: UTF8.self)]
        let flags = try integer(UInt8.self)
        if flags & 1 != 0 {
            fields["a"] = micro(try integer(Int32.self))
            fields["o"] = micro(try integer(Int32.self))
            fields["r"] = String(try integer(UInt16.self))
            fields["t"] = String(try integer(UInt32.self))
            fields["s"] = ["G", "L", "C", "?"][Int(flags >> 1 & 3)]
            fields["g"] = String(try integer(UInt16.self))
        }
        if flags & 8 != 0 {
            let mcc = try integer(UInt16.self), mnc = try integer(UInt16.self)
            let lac = try integer(UInt32.self), ci = try integer(UInt32.self)
            fields["c"] = "\(mcc)-\(mnc)-\(String(lac, radix: 16, uppercase: true))-\(String(ci, radix: 16, uppercase: true))"
        }
        let battery = try integer(UInt8.self), signal = try integer(UInt8.self)
        if battery != 255 { fields["b"] = String(battery) }
        if signal != 255 { fields["q"] = String(signal) }
        return fields
    }

    static func micro(_ value: Int32) -> String {
        let magnitude = Int64(value).magnitude
        let fraction = String(magnitude % 1_000_000)
        return (value < 0 ? "-" : "") + "\(magnitude / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
