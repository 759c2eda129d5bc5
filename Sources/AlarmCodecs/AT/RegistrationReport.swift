import AlarmCore

/// A +CREG / +CGREG / +CEREG line, solicited (answer to AT+CxREG?) or unsolicited.
///
/// 27.007 shapes, after the optional leading <n> of the solicited form:
/// `<stat>[,[<lac>],[<ci>],[<AcT>]…]`; +CGREG appends <rac>, all three may append
/// `<cause_type>,<reject_cause>` and PSM timers. Everything after <AcT> is ignored.
public struct RegistrationReport: Sendable, Hashable {
    public enum Domain: String, Sendable { case circuitSwitched = "CREG", packet = "CGREG", eps = "CEREG" }

    public var domain: Domain
    public var registration: Registration
    /// The <stat> as sent. `registration` folds 6…11 into the AlarmCore cases; the engine needs the raw value
    /// to tell "registered for SMS only" (6/7) and "emergency bearer only" (8, 11) apart.
    public var status: Int
    /// LAC or TAC, from hex.
    public var areaCode: Int?
    /// From hex.
    public var cellID: Int?
    /// AcT: 0 GSM, 2 UTRAN, 3 GSM/EGPRS, 7 E-UTRAN, …
    public var accessTechnology: Int?

    public init(domain: Domain, registration: Registration, status: Int, areaCode: Int? = nil, cellID: Int? = nil,
                accessTechnology: Int? = nil) {
        self.domain = domain
        self.registration = registration
        self.status = status
        self.areaCode = areaCode
        self.cellID = cellID
        self.accessTechnology = accessTechnology
    }

    /// `solicited`: true when the line answers AT+CxREG? (it starts with <n>), false when it is a URC (no <n>),
    /// nil when the engine cannot tell. Then:
    /// - 1 field is `<stat>` and 2 fields are `<n>,<stat>` (no unsolicited form has two fields);
    /// - with 3 or more fields, if field 2 looks like an area code the line is unsolicited, else if field 3 does
    ///   it is solicited, else it is taken as unsolicited, because a line the engine cannot place is one that
    ///   arrived outside a command, i.e. a URC.
    /// A field "looks like an area code" when it is quoted (27.007 sends <lac>/<tac> as a string, while <n>
    /// and <stat> are bare integers) or, for firmware that drops the quotes, when it is hex with a letter A–F
    /// or at least 4 characters long (<n> and <stat> are at most 2 digits).
    /// With `solicited` given, the given shape wins; a lone field is read as <stat> either way.
    public static func parse(_ line: String, solicited: Bool?) -> RegistrationReport? {
        guard let response = ATText.informationResponse(line),
              response.name.hasPrefix("+"),
              let domain = Domain(rawValue: String(response.name.dropFirst())) else { return nil }
        let fields = ATField.split(response.payload)
        let statIndex: Int
        switch (fields.count, solicited) {
        case (1, _): statIndex = 0
        case (_, .some(let solicited)): statIndex = solicited ? 1 : 0
        case (2, nil): statIndex = 1
        default:
            if looksLikeAreaCode(fields[1]) { statIndex = 0 }
            else if looksLikeAreaCode(fields[2]) { statIndex = 1 }
            else { statIndex = 0 }
        }
        if statIndex == 1 {
            guard let n = fields[0].int, (0...5).contains(n) else { return nil }
        }
        guard let status = fields[statIndex].int, status >= 0 else { return nil }
        func field(_ offset: Int) -> ATField? {
            statIndex + offset < fields.count ? fields[statIndex + offset] : nil
        }
        return RegistrationReport(domain: domain, registration: registration(status), status: status,
                                  areaCode: field(1)?.hex, cellID: field(2)?.hex,
                                  accessTechnology: field(3)?.int)
    }

    static func looksLikeAreaCode(_ field: ATField) -> Bool {
        if field.quoted { return true }
        guard ATText.isHexDigits(field.text) else { return false }
        return field.text.count >= 4 || field.text.contains(where: { !$0.isNumber })
    }

    /// 6/9 and 7/10 are registrations with a restriction (SMS only, CSFB not preferred) and count as
    /// registered; 8 and 11 allow emergency bearers only, so they are not a registration.
    static func registration(_ status: Int) -> Registration {
        switch status {
        case 0, 8, 11: .notRegistered
        case 1, 6, 9: .home
        case 2: .searching
        case 3: .denied
        case 5, 7, 10: .roaming
        default: .unknown
        }
    }
}
