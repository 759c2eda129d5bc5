import AlarmCore
import AlarmRuntime
import HAL
import PosixIO
import Testing

/// The supervisor's judgement, case by case.
@Suite struct DataSupervisorTests {
    let usable = InterfaceState(name: "wwan0", exists: true, up: true, running: true, ipv4Addresses: ["10.64.1.2"], hasRoute: true)

    func verdict(_ modem: ModemDataStatus, _ interface: InterfaceState?, name: String? = "wwan0",
                 policy: DataDuringCalls = .lteAndUMTS) -> DataPath {
        DataSupervisor.verdict(modem: modem, interface: interface, name: name, dataDuringCalls: policy).0
    }

    @Test func upNeedsContextAndAUsableInterface() {
        let active = ModemDataStatus(contextActive: true, technology: .lte)
        #expect(verdict(active, usable) == .up)
        #expect(verdict(ModemDataStatus(contextActive: false, technology: .lte), usable) == .down)
        #expect(verdict(active, nil) == .down)
        var noCarrier = usable
        noCarrier.running = false
        #expect(verdict(active, noCarrier) == .down)
        var noAddress = usable
        noAddress.ipv4Addresses = []
        #expect(verdict(active, noAddress) == .down)
        var noRoute = usable
        noRoute.hasRoute = false
        #expect(verdict(active, noRoute) == .down)
        #expect(verdict(active, nil, name: nil) == .up)  // no interface configured: the context decides
    }

    @Test(arguments: [
        (RadioTechnology.lte, DataDuringCalls.lte, false), (.nr, .lte, false), (.umts, .lte, true), (.gsm, .lte, true),
        (.umts, .lteAndUMTS, false), (.gsm, .lteAndUMTS, true), (.unknown, .lteAndUMTS, true),
        (.gsm, .all, false),
    ])
    func callsHoldDataByTechnology(technology: RadioTechnology, policy: DataDuringCalls, held: Bool) {
        let inCall = ModemDataStatus(contextActive: true, technology: technology, inVoiceCall: true)
        #expect(verdict(inCall, usable, policy: policy) == (held ? .suspended : .up))
        // Outside a call the technology does not matter.
        let idle = ModemDataStatus(contextActive: true, technology: technology, inVoiceCall: false)
        #expect(verdict(idle, usable, policy: policy) == .up)
    }
}
