/// How a modem is asked for its GNSS position over AT: one of the vendor dialects, named by the modem profile.
public enum GNSSQuery: String, Sendable, Hashable, CaseIterable {
    /// Quectel EC2x/EG2x: `AT+QGPSLOC=2` (decimal degrees).
    case quectelLocation = "quectel-qgpsloc"
    /// SIMCom SIM7500/SIM7600: `AT+CGPSINFO`.
    case simcomInfo = "simcom-cgpsinfo"

    public var command: String {
        switch self {
        case .quectelLocation: "AT+QGPSLOC=2"
        case .simcomInfo: "AT+CGPSINFO"
        }
    }

    /// The prefix of the intermediate line that carries the position.
    public var responsePrefix: String {
        switch self {
        case .quectelLocation: QuectelLocation.prefix + ":"
        case .simcomInfo: SIMComGPSInfo.prefix + ":"
        }
    }

    /// What the modem's complete answer (final result and the lines collected for the command) says.
    /// Throws when a position line is there but does not parse.
    public func interpret(_ result: ATFinalResult, lines: [String]) throws(GNSSLocationError) -> GNSSReading {
        switch self {
        case .quectelLocation:
            if QuectelLocation.isNotFixedYet(result) { return .noFix }
            if QuectelLocation.isEngineOff(result) { return .engineOff }
            guard result.isSuccess else { return .refused(result) }
            guard let line = lines.first(where: { $0.hasPrefix(responsePrefix) }) else { throw .notALocationLine("") }
            return .fix(try QuectelLocation.parse(line))
        case .simcomInfo:
            guard result.isSuccess else { return .refused(result) }
            guard let line = lines.first(where: { $0.hasPrefix(responsePrefix) }) else { throw .notALocationLine("") }
            return try SIMComGPSInfo.parse(line).map { .fix($0) } ?? .noFix
        }
    }
}

public enum GNSSReading: Sendable, Hashable {
    case fix(GNSSLocation)
    /// The receiver runs and has no position yet (or lost it).
    case noFix
    /// The GNSS engine is off (Quectel says so; SIMCom answers with empty fields, as for no fix).
    case engineOff
    /// Any other error result: the command itself failed.
    case refused(ATFinalResult)
}
