import AlarmCore

// The interim report framing between the device and the receiving centre: one text line per
// message. It exists so the whole alarm runs end to end before SIA DC-09 replaces it (see
// docs/protocol.md); it carries no encryption and must only run on loopback in simulation.
//
//   device → centre   REPORT v=1 dev=<id> seq=<n> alarm=<n> kind=<kind> sent=<ms> [pos=<lat>,<lon>,<acc>,<src>,<fix ms>]
//                     [age=<ms>] [prev=<lat>,<lon>;<lat>,<lon>] [cell=<mcc>,<mnc>,<area>,<cell>,<act>]
//   centre → device   ACK <seq> | NAK <seq> | CMD end-alarm [<alarm>]

public struct ReportFrame: Sendable, Hashable {
    public var deviceID: String
    public var sentAt: WallTime
    public var report: Report

    public init(deviceID: String, sentAt: WallTime, report: Report) {
        self.deviceID = deviceID
        self.sentAt = sentAt
        self.report = report
    }
}

public enum CentreMessage: Sendable, Hashable {
    case ack(sequence: Int)
    case nak(sequence: Int)
    case command(CentreCommand)
}

public struct FramingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

public enum InterimFraming {
    public static func encode(_ frame: ReportFrame) -> [UInt8] {
        let report = frame.report
        var fields = ["REPORT", "v=1", "dev=\(frame.deviceID)", "seq=\(report.sequence)", "alarm=\(report.alarmNumber)",
                      "kind=\(report.kind.rawValue)", "sent=\(frame.sentAt.millisecondsSince1970)"]
        if let fix = report.position {
            fields.append("pos=\(fix.latitude),\(fix.longitude),\(fix.horizontalAccuracy),\(fix.source.rawValue),\(fix.fixTime.millisecondsSince1970)")
        }
        if let age = report.positionAge { fields.append("age=\(age.milliseconds)") }
        if !report.previousPositions.isEmpty {
            fields.append("prev=" + report.previousPositions.map { "\($0.latitude),\($0.longitude)" }.joined(separator: ";"))
        }
        if let cell = report.cell {
            fields.append("cell=\(cell.mcc),\(cell.mnc),\(cell.areaCode),\(cell.cellID),\(cell.accessTechnology)")
        }
        return Array((fields.joined(separator: " ") + "\n").utf8)
    }

    public static func encode(_ message: CentreMessage) -> [UInt8] {
        let text = switch message {
        case .ack(let sequence): "ACK \(sequence)"
        case .nak(let sequence): "NAK \(sequence)"
        case .command(let command): "CMD \(command.action.rawValue)" + (command.alarmNumber.map { " \($0)" } ?? "")
        }
        return Array((text + "\n").utf8)
    }

    public static func decodeReport(_ line: [UInt8]) -> Result<ReportFrame, FramingError> {
        let words = String(decoding: line, as: UTF8.self).split(separator: " ")
        guard words.first == "REPORT" else { return .failure(FramingError("not a REPORT line")) }
        var values: [Substring: Substring] = [:]
        for word in words.dropFirst() {
            guard let eq = word.firstIndex(of: "=") else { return .failure(FramingError("field without '=': \(word.prefix(32))")) }
            values[word[..<eq]] = word[word.index(after: eq)...]
        }
        guard values["v"] == "1" else { return .failure(FramingError("unsupported version \(values["v"] ?? "none")")) }
        guard let device = values["dev"], !device.isEmpty,
              let sequence = values["seq"].flatMap({ Int($0) }), (1...9999).contains(sequence),
              let alarm = values["alarm"].flatMap({ Int($0) }),
              let kind = values["kind"].flatMap({ ReportKind(rawValue: String($0)) }),
              let sent = values["sent"].flatMap({ Int64($0) })
        else { return .failure(FramingError("missing or invalid dev/seq/alarm/kind/sent")) }
        var position: Fix?
        if let text = values["pos"] {
            let parts = text.split(separator: ",")
            guard parts.count == 5, let lat = Double(parts[0]), let lon = Double(parts[1]), let acc = Double(parts[2]),
                  let source = PositionSource(rawValue: String(parts[3])), let time = Int64(parts[4])
            else { return .failure(FramingError("invalid pos")) }
            position = Fix(latitude: lat, longitude: lon, horizontalAccuracy: acc,
                           fixTime: WallTime(millisecondsSince1970: time), source: source)
        }
        var age: Duration?
        if let text = values["age"] {
            guard let ms = Int64(text) else { return .failure(FramingError("invalid age")) }
            age = .milliseconds(ms)
        }
        var previous: [Fix] = []
        if let text = values["prev"] {
            for pair in text.split(separator: ";") {
                let parts = pair.split(separator: ",")
                guard parts.count == 2, let lat = Double(parts[0]), let lon = Double(parts[1]) else {
                    return .failure(FramingError("invalid prev"))
                }
                // Earlier positions travel without accuracy and time: only their place matters.
                previous.append(Fix(latitude: lat, longitude: lon, horizontalAccuracy: 0,
                                    fixTime: WallTime(millisecondsSince1970: 0)))
            }
        }
        var cell: CellInfo?
        if let text = values["cell"] {
            let parts = text.split(separator: ",")
            guard parts.count == 5, let mcc = Int(parts[0]), let mnc = Int(parts[1]), let area = Int(parts[2]),
                  let id = Int(parts[3]) else { return .failure(FramingError("invalid cell")) }
            cell = CellInfo(mcc: mcc, mnc: mnc, areaCode: area, cellID: id, accessTechnology: String(parts[4]))
        }
        let report = Report(sequence: sequence, kind: kind, alarmNumber: alarm, position: position, positionAge: age,
                            previousPositions: previous, cell: cell)
        return .success(ReportFrame(deviceID: String(device), sentAt: WallTime(millisecondsSince1970: sent), report: report))
    }

    public static func decodeCentreMessage(_ line: [UInt8]) -> Result<CentreMessage, FramingError> {
        let words = String(decoding: line, as: UTF8.self).split(separator: " ")
        if words.count == 3, words[0] == "CMD" {
            guard let action = CentreCommand.Action(rawValue: String(words[1])), let alarm = Int(words[2]), alarm > 0 else {
                return .failure(FramingError("invalid command"))
            }
            return .success(.command(CentreCommand(action, alarmNumber: alarm)))
        }
        guard words.count == 2 else { return .failure(FramingError("expected two words")) }
        switch words[0] {
        case "ACK", "NAK":
            guard let sequence = Int(words[1]), (1...9999).contains(sequence) else {
                return .failure(FramingError("invalid sequence"))
            }
            return .success(words[0] == "ACK" ? .ack(sequence: sequence) : .nak(sequence: sequence))
        case "CMD":
            guard let action = CentreCommand.Action(rawValue: String(words[1])) else {
                return .failure(FramingError("unknown command"))
            }
            return .success(.command(CentreCommand(action)))
        default:
            return .failure(FramingError("unknown message"))
        }
    }
}

/// Centre messages from a byte stream; malformed lines come out as failures and never stop the stream.
public struct CentreMessageDecoder: ByteStreamDecoder {
    private var lines = LineDecoder(maximumLength: 256)
    public init() {}
    public mutating func decode(_ buffer: inout [UInt8]) -> Result<CentreMessage, FramingError>? {
        switch lines.decode(&buffer) {
        case nil: nil
        case .overlong(let n)?: .failure(FramingError("line of \(n) bytes discarded"))
        case .line(let line)?: InterimFraming.decodeCentreMessage(line)
        }
    }
}

/// Report frames from a byte stream (the centre's side).
public struct ReportFrameDecoder: ByteStreamDecoder {
    private var lines = LineDecoder(maximumLength: 2048)
    public init() {}
    public mutating func decode(_ buffer: inout [UInt8]) -> Result<ReportFrame, FramingError>? {
        switch lines.decode(&buffer) {
        case nil: nil
        case .overlong(let n)?: .failure(FramingError("line of \(n) bytes discarded"))
        case .line(let line)?: InterimFraming.decodeReport(line)
        }
    }
}
