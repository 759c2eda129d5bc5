import AlarmCodecs

/// What differs between modem vendors, as data. A board picks one by name (`profile=` on the modem URI).
public struct ModemProfile: Sendable, Hashable {
    public enum CallStateReporting: Sendable, Hashable {
        /// No call-state URCs: poll AT+CLCC while a call is being set up or is up (never when idle).
        case poll
        /// `+CLCC:` lines arrive unsolicited after this command (SIMCom: AT+CLCC=1).
        case clccURC(enable: String)
    }

    public var name: String
    /// The modem announces readiness with `RDY` after power-up (Quectel).
    public var announcesReady: Bool
    public var callState: CallStateReporting
    /// ICCID query and the prefix of its answer ("" when the answer is bare digits).
    public var iccidCommand: String
    public var iccidPrefix: String
    /// Full functional reset.
    public var resetCommand: String
    /// Settings that do not survive a modem restart, applied after the standard start-up.
    public var vendorSettings: [String]
    /// Switches the modem's own GNSS on (boards whose position source is the modem's NMEA port), in order.
    public var gnssOn: [String]
    /// Routes voice over a USB audio device (boards that carry voice through the host).
    public var usbAudioOn: String?
    /// Starts the data call on the modem's USB network interface (`{cid}` is the context); nil: 3GPP AT+CGACT.
    public var dataCallStart: String? = nil
    /// Switches IMS voice (VoLTE) on, so a call stays on LTE and data keeps flowing during it.
    public var imsOn: [String] = []
    /// Asks the modem's GNSS for its position over AT (boards with only the UART wired); nil: the modem cannot.
    public var gnssQuery: GNSSQuery? = nil

    /// Ends call `index` and no other (27.007 `AT+CHLD=1<idx>`); `rejecting` an incoming or waiting call.
    /// Never `ATH`/`AT+CHUP`, which end every call on the modem.
    public func releaseCommand(index: Int, rejecting: Bool) -> String {
        "AT+CHLD=1\(index)"
    }

    public static let generic = ModemProfile(
        name: "generic", announcesReady: false, callState: .poll, iccidCommand: "AT+CCID", iccidPrefix: "+CCID:",
        resetCommand: "AT+CFUN=1,1", vendorSettings: [], gnssOn: [], usbAudioOn: nil)

    public static let quectelEC25 = ModemProfile(
        name: "quectel-ec25", announcesReady: true, callState: .poll, iccidCommand: "AT+QCCID", iccidPrefix: "+QCCID:",
        resetCommand: "AT+CFUN=1,1",
        // URCs on the AT port we talk to, not on the USB modem port.
        vendorSettings: ["AT+QURCCFG=\"urcport\",\"usbat\""],
        // NMEA on the USB NMEA port (gpsd reads it), then the engine on.
        gnssOn: ["AT+QGPSCFG=\"outport\",\"usbnmea\"", "AT+QGPS=1"], usbAudioOn: "AT+QPCMV=1,2",
        // ECM: connect the context to the usb0/wwan0 interface and report its state as a URC.
        dataCallStart: "AT+QNETDEVCTL=1,{cid},1", imsOn: ["AT+QCFG=\"ims\",1"], gnssQuery: .quectelLocation)

    public static let simcomSIM7600 = ModemProfile(
        name: "simcom-sim7600", announcesReady: false, callState: .clccURC(enable: "AT+CLCC=1"),
        iccidCommand: "AT+CICCID", iccidPrefix: "+ICCID:", resetCommand: "AT+CFUN=1,1", vendorSettings: [],
        gnssOn: ["AT+CGPS=1"], usbAudioOn: "AT+CPCMREG=1",
        // RmNet/QMI data call on the wwan interface (instance 1). VoLTE is a firmware setting on this module.
        dataCallStart: "AT$QCRMCALL=1,1", gnssQuery: .simcomInfo)

    public static let all = [generic, quectelEC25, simcomSIM7600]

    public static func named(_ name: String) -> ModemProfile? { all.first { $0.name == name } }
}
