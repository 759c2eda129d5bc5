import ATModem
import AlarmCore
import Glibc
import HAL
import ModemEmulator
import PosixIO
import Testing

/// The modem is the truth about calls: a real modem keeps its calls when the daemon dies, the port is reopened or
/// the driver recovers, and the driver must find them before it does anything else concerning calls.
@Suite struct CallAdoptionDriverTests {
    static let centre = "+3292000101"

    /// Places a call on the emulated modem before the driver has opened the port (the previous process placed it),
    /// and lets the network take it to `state` (2 dialing, 3 alerting, 0 active, 1 held).
    func rigWithCallBeforeStart(state: Int) throws -> ModemRig {
        let rig = try ModemRig { $0.answerAfter = .seconds(2); $0.alertAfter = .milliseconds(300) }
        rig.clock.advance(by: .milliseconds(300))  // the modem boots (its RDY goes nowhere: the port is closed)
        rig.emulator.receive(Array("ATE0\rATD\(Self.centre);\r".utf8))
        switch state {
        case 3: rig.clock.advance(by: .milliseconds(400))
        case 0, 1: rig.clock.advance(by: .milliseconds(2400))
        default: break
        }
        if state == 1 {
            rig.emulator.receive(Array("AT+CHLD=2\r".utf8))
        }
        #expect(rig.emulator.calls.map(\.state) == [state])
        return rig
    }

    func existing(_ rig: ModemRig) -> [ExistingCall] {
        rig.callEvents.compactMap { if case .existing(let call) = $0 { call } else { nil } }
    }

    @Test(arguments: [(0, ExistingCall.Status.active), (3, .alerting), (2, .dialing), (1, .held)])
    func callAlreadyOnTheModemIsReportedBeforeTheDriverAcceptsADial(state: Int, status: ExistingCall.Status) throws {
        let rig = try rigWithCallBeforeStart(state: state)
        try rig.start()
        let found = existing(rig)
        #expect(found == [ExistingCall(id: .existing(1), outgoing: true, number: Self.centre, status: status)])
        // +CLCC was the first command concerning calls, ahead of caller ID, call waiting and registration.
        let transcript = rig.emulator.transcript.filter { $0.hasPrefix("→ AT") }
        let list = try #require(transcript.firstIndex(of: "→ AT+CLCC"))
        for later in ["→ AT+CLIP=1", "→ AT+CREG=2", "→ AT+CCWA=1,0"] {
            #expect(transcript.firstIndex(of: later).map { $0 > list } ?? true, "\(later) before the call list")
        }
        // The existing call was reported before the driver declared itself ready.
        let dialledBefore = rig.emulator.dialledNumbers.count
        if status == .active || status == .held {
            // While the modem lists a call that is up, the driver refuses to dial over it.
            rig.driver.dial(.outgoing(1), number: Self.centre)
            rig.settle()
            #expect(rig.emulator.dialledNumbers.count == dialledBefore)
            #expect(rig.progress(of: .outgoing(1)) == [.ended(.dialFailed(.notReady))])
        }
        #expect(rig.emulator.hangUpAllCommandsWithCalls == 0)
        #expect(rig.emulator.endedCalls.isEmpty)
    }

    @Test func adoptedCallIsTrackedAndItsEndReadWithItsCause() throws {
        let rig = try rigWithCallBeforeStart(state: 0)
        try rig.start()
        #expect(existing(rig).first?.status == .active)
        rig.emulator.remoteHangUp()
        rig.advance(.seconds(2))
        #expect(rig.waitFor { rig.progress(of: .existing(1)).last == .ended(.normalClearing) })
    }

    @Test func existingCallTheCoreDoesNotWantIsEndedByItsOwnIndex() throws {
        let rig = try rigWithCallBeforeStart(state: 0)
        // A second call, incoming and waiting, also kept by the modem.
        rig.emulator.ring(from: "+32470666666")
        try rig.start()
        let found = existing(rig)
        #expect(found.count == 2)
        let stranger = try #require(found.first { !$0.outgoing })
        #expect(stranger.status == .waiting)
        rig.driver.perform(.hangUp, on: stranger.id)
        rig.advance(.milliseconds(500))
        #expect(rig.waitFor { rig.emulator.calls.count == 1 })
        #expect(rig.emulator.calls.first?.number == Self.centre)
        #expect(rig.emulator.endedCalls.map(\.endedBy) == ["AT+CHLD=12"])
        #expect(rig.emulator.hangUpAllCommandsWithCalls == 0)
    }

    @Test func waitingCallRejectedWhileTheDriversCacheIsEmptyEndsOnlyThatCall() throws {
        // The centre's call is up on the modem but the driver lost track of it (here: it never saw it placed, and
        // the network ignores our request to switch call waiting off); the aggressor's call knocks.
        let rig = try ModemRig { $0.callWaitingControllable = false }
        try rig.start()
        rig.emulator.receive(Array("ATD\(Self.centre);\r".utf8))
        rig.advance(.seconds(3))
        #expect(rig.emulator.activeCallCount == 1)
        rig.emulator.ring(from: "+32470666666")
        #expect(rig.calls.waitUntil { $0.contains { if case .incoming = $0 { true } else { false } } })
        guard case .incoming(let id, _)? = rig.callEvents.first(where: { if case .incoming = $0 { true } else { false } }) else { return }
        rig.driver.perform(.reject, on: id)
        rig.advance(.milliseconds(500))
        #expect(rig.waitFor { rig.emulator.calls.count == 1 })
        #expect(rig.emulator.activeCallCount == 1)
        #expect(rig.emulator.endedCalls.map(\.endedBy) == ["AT+CHLD=12"])
        #expect(!rig.emulator.transcript.contains("→ ATH"))
        #expect(!rig.emulator.transcript.contains("→ AT+CHUP"))
    }

    @Test func recoveryAfterAHangFindsTheSurvivingCall() throws {
        let rig = try ModemRig()
        try rig.start()
        rig.driver.dial(.outgoing(1), number: Self.centre)
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: .outgoing(1)).contains(.connected))
        // The AT interface stops answering for a while (a firmware stall) but the call stays up on the modem.
        rig.emulator.hang()
        // Three unanswered commands: the driver reports the modem down and re-initialises it with probes.
        for _ in 0..<120 where rig.driver.phase != .recovering { rig.advance(.milliseconds(500)) }
        #expect(rig.driver.phase == .recovering)
        rig.emulator.unhang()
        rig.advance(.seconds(5), in: .milliseconds(250))
        #expect(rig.waitFor { rig.driver.phase == .ready })
        rig.settle()
        // The driver reported the call lost while the modem was silent, then found it again when it answered.
        #expect(rig.progress(of: .outgoing(1)).last == .ended(.networkFailure))
        let found = existing(rig)
        #expect(found.count == 1)
        #expect(found.first?.number == Self.centre)
        #expect(found.first?.status == .active)
        #expect(rig.emulator.activeCallCount == 1)
        #expect(rig.emulator.hangUpAllCommandsWithCalls == 0)
    }

    @Test func portIsOpenedWithoutHangUpOnClose() throws {
        let pty = try PseudoTerminal.open()
        defer { try? pty.controller.close() }
        // A line that had HUPCL set (the default on many serial drivers) gets it cleared by our open.
        let before = try FileDescriptor.open(pty.devicePath, O_RDWR | O_NOCTTY | O_NONBLOCK)
        var settings = termios()
        #expect(tcgetattr(before.rawValue, &settings) == 0)
        settings.c_cflag |= tcflag_t(HUPCL)
        #expect(tcsetattr(before.rawValue, TCSANOW, &settings) == 0)
        #expect(try SerialPort.hangsUpOnClose(before))
        let port = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: false, exclusive: false)
        defer { try? port.close() }
        try before.close()
        // Read back with tcgetattr, as the kernel will apply it at the last close.
        var applied = termios()
        #expect(tcgetattr(port.rawValue, &applied) == 0)
        #expect(applied.c_cflag & tcflag_t(HUPCL) == 0)
        #expect(try !SerialPort.hangsUpOnClose(port))
    }
}
