/// One line of AT+CLCC (or the same shape sent as a URC by some vendors):
/// `+CLCC: <idx>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>[,<alpha>[,<priority>[,<CLI validity>]]]]`.
public struct CallListEntry: Sendable, Hashable {
    public enum Direction: Int, Sendable { case outgoing = 0, incoming = 1 }
    /// `ended` (6) is not in 27.007, but Quectel and SIMCom report a released call once with it.
    public enum State: Int, Sendable { case active = 0, held, dialing, alerting, incoming, waiting, ended = 6 }

    public var index: Int
    public var direction: Direction
    public var state: State
    /// Mode 0. Data and fax calls share the list, and the driver must not mistake one for the alarm call.
    public var isVoice: Bool
    public var multiparty: Bool
    public var number: String?
    public var type: Int?

    public init(index: Int, direction: Direction, state: State, isVoice: Bool = true, multiparty: Bool = false,
                number: String? = nil, type: Int? = nil) {
        self.index = index
        self.direction = direction
        self.state = state
        self.isVoice = isVoice
        self.multiparty = multiparty
        self.number = number
        self.type = type
    }

    /// Nil when index, direction, state or mode is missing or out of range; an empty <mpty> reads as false,
    /// empty <number>/<type> as nil, and fields after <type> are ignored.
    public static func parse(_ line: String) -> CallListEntry? {
        guard let payload = ATText.payload(of: line, named: "+CLCC") else { return nil }
        let fields = ATField.split(payload)
        guard fields.count >= 4,
              let index = fields[0].int,
              let direction = fields[1].int.flatMap(Direction.init(rawValue:)),
              let state = fields[2].int.flatMap(State.init(rawValue:)),
              let mode = fields[3].int
        else { return nil }
        return CallListEntry(index: index, direction: direction, state: state, isVoice: mode == 0,
                             multiparty: fields.count > 4 && fields[4].int == 1,
                             number: fields.count > 5 ? fields[5].string : nil,
                             type: fields.count > 6 ? fields[6].int : nil)
    }
}
