/// `+COPS: <mode>[,<format>,<oper>[,<AcT>]]`, the answer to AT+COPS?.
public struct Operator: Sendable, Hashable {
    /// 0 automatic, 1 manual, 2 deregistered, 3 format only, 4 manual then automatic.
    public var mode: Int
    /// 0 long alphanumeric, 1 short alphanumeric, 2 numeric (MCC+MNC).
    public var format: Int?
    public var name: String?
    public var accessTechnology: Int?

    public init(mode: Int, format: Int? = nil, name: String? = nil, accessTechnology: Int? = nil) {
        self.mode = mode
        self.format = format
        self.name = name
        self.accessTechnology = accessTechnology
    }

    /// MCC when `name` is numeric (format 2), for `CellInfo`.
    public var mcc: Int? { numericCode.flatMap { Int($0.prefix(3)) } }
    /// MNC when `name` is numeric; 2 or 3 digits, as many as the operator uses.
    public var mnc: Int? { numericCode.flatMap { Int($0.dropFirst(3)) } }

    /// MCC+MNC as sent ("20601") when the format is numeric; kept as text because the MNC's length (2 or 3
    /// digits) is part of its identity ("01" and "001" are different networks).
    public var numericCode: String? {
        guard format == 2, let name, ATText.isDigits(name), (5...6).contains(name.count) else { return nil }
        return name
    }

    /// Nil for the AT+COPS=? list ("+COPS: (2,"…"),…"), whose first field is not a mode.
    public static func parse(_ line: String) -> Operator? {
        guard let payload = ATText.payload(of: line, named: "+COPS") else { return nil }
        let fields = ATField.split(payload)
        guard let mode = fields.first?.int else { return nil }
        func field(_ i: Int) -> ATField? { i < fields.count ? fields[i] : nil }
        return Operator(mode: mode, format: field(1)?.int, name: field(2)?.string, accessTechnology: field(3)?.int)
    }
}
