import AlarmCodecs
import Testing

@Suite struct PacketDomainTests {
    @Test(arguments: [
        ("NW PDN DEACT 1", PacketDomainEvent.deactivated(cid: 1)),
        ("ME PDN DEACT 3", .deactivated(cid: 3)),
        ("NW PDN DEACT 2,1", .deactivated(cid: 2)),  // with the WLAN offload field
        ("ME PDN ACT 1", .activated(cid: 1)),
        ("ME PDN ACT 1,0", .activated(cid: 1)),
        ("NW DEACT \"IP\",\"10.64.3.2\",1", .deactivated(cid: 1)),
        ("NW DEACT \"IP\",\"10.64.3.2\"", .deactivated(cid: nil)),
        ("ME DEACT \"IPV4V6\",\"10.1.1.1\",5", .deactivated(cid: 5)),
        ("NW DETACH", .detached),
        ("me detach", .detached),
        ("NW CLASS \"B\"", .other("NW CLASS \"B\"")),
        ("REJECT \"IP\",\"1.2.3.4\"", .other("REJECT \"IP\",\"1.2.3.4\"")),
        ("", .other("")),
    ])
    func cgevShapes(payload: String, expected: PacketDomainEvent) {
        #expect(PacketDomainEvent.parse(payload) == expected)
    }

    @Test func cgevIsAlwaysAURC() {
        #expect(ATUnsolicited.isAlwaysUnsolicited("+CGEV: NW PDN DEACT 1"))
        #expect(ATUnsolicited.parse("+CGEV: NW PDN DEACT 1") == .packetDomain(.deactivated(cid: 1)))
    }

    @Test func contextStateAndAddress() {
        #expect(PDPContextState.parse("+CGACT: 1,1") == PDPContextState(cid: 1, active: true))
        #expect(PDPContextState.parse("+CGACT: 2,0") == PDPContextState(cid: 2, active: false))
        #expect(PDPContextState.parse("+CGACT: 1,7") == nil)
        #expect(PDPContextState.parse("+CGACT: x,1") == nil)
        #expect(PDPAddress.parse("+CGPADDR: 1,\"10.64.3.2\"") == PDPAddress(cid: 1, addresses: ["10.64.3.2"]))
        #expect(PDPAddress.parse("+CGPADDR: 1,\"0.0.0.0\"")?.addresses == [])
        #expect(PDPAddress.parse("+CGPADDR: 1")?.addresses == [])
        #expect(PDPAddress.parse("+CGPADDR: 1,\"10.1.2.3\",\"32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.1\"")?.addresses.count == 2)
        #expect(PDPAddress.parse("+CGACT: 1,1") == nil)
    }
}
