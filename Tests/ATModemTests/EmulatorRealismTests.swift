import AlarmCodecs
import AlarmCore
import ATModem
import Dispatch
import Glibc
import HAL
import ModemEmulator
import PosixIO
import SimBackends
import Testing

/// A terminal program on the emulator's pty: it opens the device like any serial port and reads what comes
/// back. Waits are for bytes (poll with a deadline), never for a fixed time; emulator time moves only through
/// the manual clock.
final class RawModemTerminal {
    let clock = ManualClock()
    let emulator: ModemEmulator
    let pty: PTYModemEmulator
    var port: FileDescriptor
    /// Everything read since the last `clear()`.
    private(set) var text = ""

    init(_ configure: (inout EmulatorSettings) -> Void = { _ in }) throws {
        var settings = EmulatorSettings()
        configure(&settings)
        emulator = ModemEmulator(clock: clock, settings: settings)
        pty = try PTYModemEmulator(emulator: emulator)
        port = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: false)
        clock.advance(by: settings.bootTime)
        try expect("RDY")
        try send("ATE0")
        try expect("OK")
        clear()
    }

    deinit {
        _ = try? port.close()
        pty.close()
    }

    /// Writes one command line and waits until the emulator has taken every byte of it.
    func send(_ line: String) throws {
        let before = pty.byteCounts.received
        let bytes = Array((line + "\r").utf8)
        try port.writeAll(bytes, timeoutMilliseconds: 5000)
        let deadline = DispatchTime.now() + 5
        while pty.byteCounts.received < before + bytes.count {
            guard DispatchTime.now() < deadline else { throw LineError("the emulator never took \(line)") }
            _ = try? port.poll(events: Int16(POLLIN), timeoutMilliseconds: 5)
        }
    }

    /// Reads until `needle` has arrived (it stays in `text`).
    func expect(_ needle: String, seconds: Double = 5) throws {
        let deadline = DispatchTime.now() + seconds
        while !text.contains(needle) {
            guard DispatchTime.now() < deadline else { throw LineError("never saw \(needle) in \(text.debugDescription)") }
            try readSome()
        }
    }

    /// Sends a command the emulator answers at once and returns the lines of its answer: the emulator has
    /// written the answer by the time it counts the command's bytes as taken, so reading everything it sent
    /// reads exactly that answer (and any URC it sent before).
    func command(_ line: String) throws -> [String] {
        try drain()  // earlier answers and URCs are not part of this one
        clear()
        try send(line)
        try drain()
        return lines
    }

    private func readSome() throws {
        let ready = try port.poll(events: Int16(POLLIN), timeoutMilliseconds: 50)
        if ready & Int16(POLLIN) != 0, let chunk = try? port.read(upTo: 4096) {
            receivedByUs += chunk.count
            text += String(decoding: chunk, as: UTF8.self)
        }
    }

    func clear() { text = "" }

    /// The lines read so far, without blank ones.
    var lines: [String] {
        // "\r\n" is one Character in Swift: split on newline characters, not on "\r" and "\n" separately.
        text.split(whereSeparator: \.isNewline).map(String.init)
    }

    /// Everything the emulator wrote has been read by us (nothing is in flight).
    func drain() throws {
        let deadline = DispatchTime.now() + 5
        while receivedByUs < pty.byteCounts.sent {
            guard DispatchTime.now() < deadline else { throw LineError("bytes never arrived") }
            try readSome()
        }
    }

    private var receivedByUs = 0

    /// Closes the port and opens it again, as a restarted daemon does (the open discards unread output).
    func reopen() throws {
        try port.close()
        receivedByUs = pty.byteCounts.sent  // whatever was unread is discarded by the open
        port = try SerialPort.open(pty.devicePath, baud: 115_200, hardwareFlowControl: false)
        clear()
    }
}

struct LineError: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}

@Suite struct EmulatorRealismTests {
    // MARK: Supplementary services wait for the network

    @Test func callWaitingSetWaitsForTheNetworkAndHoldsTheChannel() throws {
        let modem = try RawModemTerminal { $0.supplementaryServiceDelay = .seconds(3) }
        let sentBefore = modem.pty.byteCounts.sent
        let asked = modem.clock.now()
        try modem.send("AT+CCWA=1,0")
        try modem.send("AT+CSQ")
        // Both lines were taken, yet nothing was answered: the network has not replied, and AT+CSQ waits.
        #expect(modem.pty.byteCounts.sent == sentBefore)
        #expect(modem.emulator.atChannelBusy)
        #expect(modem.emulator.transcript.contains("→ AT+CSQ (queued: the AT channel is busy)"))
        #expect(modem.emulator.callWaitingEnabled)

        // URCs still flow while the channel is busy.
        modem.emulator.ring(from: "+32470000001")
        try modem.expect("RING")
        modem.emulator.callerHangsUp()
        try modem.expect("NO CARRIER")
        modem.clear()

        modem.clock.advance(by: .milliseconds(2999))
        #expect(modem.emulator.atChannelBusy)
        modem.clock.advance(by: .milliseconds(1))
        try modem.expect("+CSQ: 21,99")
        try modem.expect("+CSQ: 21,99\r\n\r\nOK")
        // CCWA's OK first, then the queued command and its own OK.
        #expect(modem.lines == ["OK", "+CSQ: 21,99", "OK"])
        #expect(!modem.emulator.callWaitingEnabled)
        #expect(!modem.emulator.atChannelBusy)
        let request = try #require(modem.emulator.supplementaryServiceRequests.first)
        #expect(request.command == "AT+CCWA=1,0")
        #expect(request.receivedAt == asked)
        #expect(request.answeredAt == asked + .seconds(3))
    }

    @Test func everySupplementaryQueryAnswersAfterTheDelay() throws {
        let modem = try RawModemTerminal { $0.supplementaryServiceDelay = .seconds(2) }
        let queries: [(String, [String])] = [
            ("AT+CCWA=1,1", ["OK"]),
            ("AT+CCWA?", ["+CCWA: 1", "OK"]),
            ("AT+CCWA=1,2", ["+CCWA: 1,1", "OK"]),
            ("AT+CLCK=\"AO\",2", ["+CLCK: 0,7", "OK"]),
            ("AT+CCFC=0,2", ["+CCFC: 0,7", "OK"]),
            ("AT+CUSD=1,\"*100#\",15", ["OK", "+CUSD: 0,\"Emulated reply to *100#\",15"]),
        ]
        for (query, answer) in queries {
            modem.clear()
            let sentBefore = modem.pty.byteCounts.sent
            try modem.send(query)
            #expect(modem.pty.byteCounts.sent == sentBefore, "\(query) answered before the network did")
            modem.clock.advance(by: .seconds(2))
            try modem.expect(answer.last!)
            try modem.drain()
            #expect(modem.lines == answer, "\(query)")
        }
        #expect(modem.emulator.supplementaryServiceRequestCount == queries.count)
        #expect(modem.emulator.supplementaryServiceRequests.allSatisfy { $0.answeredAt == $0.receivedAt + .seconds(2) })

        // What only changes the module's presentation, or asks the SIM, does not go to the network.
        modem.clear()
        try modem.send("AT+CCWA=1")
        try modem.expect("OK")
        try modem.send("AT+CLCK=\"SC\",2")
        try modem.expect("+CLCK: 0")
        #expect(modem.emulator.supplementaryServiceRequestCount == queries.count)
    }

    @Test func withoutADelaySupplementaryCommandsAnswerAtOnce() throws {
        let modem = try RawModemTerminal()
        try modem.send("AT+CCWA=1,0")
        try modem.expect("OK")
        #expect(!modem.emulator.callWaitingEnabled)
        #expect(modem.emulator.supplementaryServiceRequestCount == 1)
    }

    // MARK: ATD waits for the network's acceptance

    @Test func dialIsListedAtOnceButAcknowledgedOnlyWhenTheNetworkAccepts() throws {
        let modem = try RawModemTerminal { $0.dialAcceptDelay = .seconds(2) }
        try modem.send("AT+CLCC=1")
        try modem.expect("OK")
        modem.clear()
        let dialledAt = modem.clock.now()
        try modem.send("ATD+3292000101;")
        try modem.expect("+CLCC: 1,0,2,0,0,\"+3292000101\",145")
        #expect(modem.emulator.calls.map(\.state) == [2])
        try modem.send("AT+CLCC")  // queued behind the dial
        try modem.drain()
        #expect(!modem.lines.contains("OK"))

        modem.clock.advance(by: .seconds(2))
        try modem.drain()
        let listing = "+CLCC: 1,0,2,0,0,\"+3292000101\",145"
        // The URC at once, then ATD's OK after the acceptance, then the queued AT+CLCC (still dialing).
        #expect(modem.lines == [listing, "OK", listing, "OK"])
        let dial = try #require(modem.emulator.dialAttempts.first)
        #expect(dial.receivedAt == dialledAt)
        #expect(dial.acceptedAt == dialledAt + .seconds(2))
        // The alerting schedule starts at acceptance, not at the ATD.
        modem.clock.advance(by: .milliseconds(299))
        #expect(modem.emulator.calls.map(\.state) == [2])
        modem.clock.advance(by: .milliseconds(1))
        #expect(modem.emulator.calls.map(\.state) == [3])
    }

    @Test func aCallLostBeforeAcceptanceEndsTheDialWithNoCarrier() throws {
        let modem = try RawModemTerminal { $0.dialAcceptDelay = .seconds(2) }
        try modem.send("ATD+3292000101;")
        modem.emulator.dropCalls()
        try modem.drain()
        #expect(!modem.lines.contains("NO CARRIER"))  // not as a URC: ATD has not finished
        modem.clock.advance(by: .seconds(2))
        try modem.expect("NO CARRIER")
        try modem.drain()
        #expect(modem.lines == ["NO CARRIER"])
        #expect(!modem.emulator.atChannelBusy)
    }

    // MARK: +CEER per vendor, read by the real parser and driver

    @Test(arguments: [
        (CEERStyle.generic, "+CEER: 16,\"Normal call clearing\""),
        (.quectel, "+CEER: \"CC INFO\",\"Normal call clearing\""),
        (.simcom, "+CEER: \"16 Normal call clearing\""),
    ])
    func ceerDialectsAllReadAsNormalClearing(style: CEERStyle, expected: String) throws {
        let modem = try RawModemTerminal { $0.ceerStyle = style; $0.answerAfter = .seconds(1) }
        try modem.send("ATD+3292000101;")
        try modem.expect("OK")
        modem.clock.advance(by: .seconds(2))
        modem.emulator.remoteHangUp()
        try modem.expect("NO CARRIER")
        modem.clear()
        try modem.send("AT+CEER")
        try modem.expect("OK")
        let line = try #require(modem.lines.first)
        #expect(line == expected)
        #expect(CallEndCause.parse(line)?.reason == .normalClearing)
    }

    @Test func simcomReportsALocalHangUpAsUnknownAndErrorStyleRefuses() throws {
        let modem = try RawModemTerminal { $0.ceerStyle = .simcom }
        try modem.send("ATD+3292000101;")
        try modem.expect("OK")
        try modem.send("ATH")
        try modem.expect("OK\r\n\r\nOK")
        modem.clear()
        try modem.send("AT+CEER")
        try modem.expect("OK")
        #expect(modem.lines == ["+CEER: \"0 Unknown\"", "OK"])
        #expect(CallEndCause.parse(modem.lines[0])?.reason == .unknown)

        modem.emulator.setCEERStyle(.error)
        modem.clear()
        try modem.send("AT+CEER")
        try modem.expect("ERROR")
        #expect(modem.lines == ["ERROR"])
    }

    @Test(arguments: [CEERStyle.quectel, .simcom])
    func driverReadsEachDialectsNormalClearing(style: CEERStyle) throws {
        let rig = try ModemRig { $0.ceerStyle = style }
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        rig.advance(.milliseconds(2500))
        #expect(rig.progress(of: id).contains(.connected))
        rig.emulator.remoteHangUp()
        #expect(rig.waitFor { rig.progress(of: id).last == .ended(.normalClearing) })
    }

    @Test func driverTreatsACEERErrorAsUnknown() throws {
        let rig = try ModemRig { $0.ceerStyle = .error }
        try rig.start()
        let id = CallID.outgoing(1)
        rig.driver.dial(id, number: "+3292000101")
        rig.advance(.milliseconds(2500))
        rig.emulator.remoteHangUp()
        #expect(rig.waitFor { rig.progress(of: id).last == .ended(.unknown) })
    }

    // MARK: Per-call release

    @Test func chldReleasesExactlyOneCallInAnyState() throws {
        let modem = try RawModemTerminal()
        modem.emulator.queueOutcomes([.silence])
        try modem.send("ATD+3292000101;")  // call 1 stays dialing
        try modem.expect("OK")
        modem.emulator.ring(from: "+32470000002")  // call 2 waiting
        #expect(modem.emulator.calls.map(\.state) == [2, 5])

        #expect(try modem.command("AT+CHLD=12") == ["OK"])
        #expect(modem.emulator.calls.map(\.index) == [1])
        #expect(try modem.command("AT+CHLD=12") == ["+CME ERROR: 3"])
        #expect(try modem.command("AT+CHLD=11") == ["OK"])
        #expect(modem.emulator.calls.isEmpty)

        modem.emulator.ring(from: "+32470000003")  // incoming (stat 4)
        #expect(try modem.command("AT+CHLD=11") == ["OK"])
        #expect(modem.emulator.calls.isEmpty)

        try modem.send("ATD+3292000101;")  // answered: active after 2.3 s
        modem.clock.advance(by: .milliseconds(2300))
        #expect(modem.emulator.calls.map(\.state) == [0])
        modem.emulator.queueOutcomes([.noAnswer])
        try modem.send("ATD+3292000102;")  // alerting after 0.3 s
        modem.clock.advance(by: .milliseconds(300))
        #expect(modem.emulator.calls.map(\.state) == [0, 3])
        #expect(try modem.command("AT+CHLD=12").last == "OK")
        #expect(modem.emulator.calls.map(\.state) == [0])
        #expect(try modem.command("AT+CHLD=11") == ["OK"])
        #expect(modem.emulator.calls.isEmpty)

        let ended = modem.emulator.endedCalls
        #expect(ended.map(\.state) == [5, 2, 4, 3, 0])
        #expect(ended.map(\.endedBy) == ["AT+CHLD=12", "AT+CHLD=11", "AT+CHLD=11", "AT+CHLD=12", "AT+CHLD=11"])
        #expect(modem.emulator.hangUpAllCommandsWithCalls == 0)
        #expect(modem.emulator.callsEndedByHangUpAll == 0)
    }

    @Test func quectelQHUPEndsOneCallWithTheGivenCause() throws {
        let modem = try RawModemTerminal()
        modem.emulator.queueOutcomes([.silence])
        try modem.send("ATD+3292000101;")
        modem.emulator.ring(from: "+32470000002")
        try modem.send("AT+QHUP=17,2")
        #expect(modem.emulator.calls.map(\.index) == [1])
        #expect(modem.emulator.endedCalls.last?.endedBy == "AT+QHUP=17,2")
        #expect(try modem.command("AT+CEER") == ["+CEER: 17,\"User busy\"", "OK"])
        #expect(try modem.command("AT+QHUP=16,5") == ["+CME ERROR: 3"])
        #expect(try modem.command("AT+QHUP=16") == ["OK"])  // no index: every call
        #expect(modem.emulator.calls.isEmpty)
        #expect(modem.emulator.hangUpAllCommandsWithCalls == 1)
    }

    @Test func hangUpAllIsCountedOnlyWithCallsAndDTRModesAreAccepted() throws {
        let modem = try RawModemTerminal()
        try modem.send("ATH")
        try modem.send("AT+CHUP")
        #expect(modem.emulator.hangUpAllCommandsWithCalls == 0)

        modem.emulator.queueOutcomes([.silence])
        try modem.send("ATD+3292000101;")
        try modem.send("ATH")
        #expect(modem.emulator.hangUpAllCommandsWithCalls == 1)
        #expect(modem.emulator.callsEndedByHangUpAll == 0)  // only one call: nothing else was cut

        modem.emulator.queueOutcomes([.silence])
        try modem.send("ATD+3292000101;")
        modem.emulator.ring(from: "+32470000002")
        try modem.send("AT+CHUP")
        #expect(modem.emulator.hangUpAllCommandsWithCalls == 2)
        #expect(modem.emulator.callsEndedByHangUpAll == 2)
        #expect(modem.emulator.endedCalls.map(\.endedBy) == ["ATH", "AT+CHUP", "AT+CHUP"])

        for mode in 0...2 {
            #expect(try modem.command("AT&D\(mode)") == ["OK"])
            #expect(modem.emulator.dtrMode == mode)
        }
    }

    // MARK: Calls survive the host

    @Test func callsSurviveTheDriverClosingAndReopeningThePort() throws {
        let modem = try RawModemTerminal()
        try modem.send("ATD+3292000101;")
        try modem.expect("OK")
        modem.clock.advance(by: .seconds(3))
        try modem.reopen()
        // The tty discarded nothing we need: the modem did not restart, so no RDY, and the call is still up.
        try modem.send("AT+CLCC")
        try modem.expect("OK")
        #expect(modem.lines == ["+CLCC: 1,0,0,0,0,\"+3292000101\",145", "OK"])
        // Output produced while nobody had the port open is lost, as on a real UART, and the line keeps working.
        try modem.port.close()
        modem.emulator.remoteHangUp()
        modem.port = try SerialPort.open(modem.pty.devicePath, baud: 115_200, hardwareFlowControl: false)
        modem.clear()
        try modem.send("AT+CLCC")
        try modem.expect("OK")
        // (A NO CARRIER may still slip past the open's flush: the tty moves bytes asynchronously.)
        #expect(!modem.lines.contains { $0.hasPrefix("+CLCC") })
        #expect(!modem.text.contains("RDY"))
    }

    // MARK: The executable, out of process

    @Test func executableTakesSettingsAndControlCommandsAndKeepsCallsAcrossReopen() throws {
        let directory = String(ChildProcess.executablePath().split(separator: "/", omittingEmptySubsequences: false)
            .dropLast().joined(separator: "/"))
        let executable = directory + "/modem-emulator"
        try #require(access(executable, X_OK) == 0, "build the modem-emulator product first")
        let link = "/tmp/emu-realism-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tty"
        let controlPipe = try PosixPipe.open()
        let output = try PosixPipe.open()
        defer { _ = try? output.reader.close() }
        let child = try ChildProcess.spawn(executable, [
            "--link", link, "--quiet", "--keep-running", "--ceer", "simcom",
            "--supplementary-delay", "0.5", "--dial-accept-delay", "0", "--answer-after", "1",
        ], stdin: controlPipe.reader, stdout: output.writer)
        defer { child.stop() }
        // The child has its copies; ours would keep its stdin from ever ending and our reads from seeing EOF.
        try controlPipe.reader.close()
        try output.writer.close()
        var controlOpen = true
        defer { if controlOpen { _ = try? controlPipe.writer.close() } }
        var printed = ""
        func readUntil(_ needle: String) throws {
            let deadline = DispatchTime.now() + 10
            while !printed.contains(needle) {
                guard DispatchTime.now() < deadline else { throw LineError("never printed \(needle): \(printed)") }
                let ready = try output.reader.poll(events: Int16(POLLIN), timeoutMilliseconds: 100)
                if ready != 0 {
                    let chunk = try output.reader.read(upTo: 4096)
                    if chunk.isEmpty { throw LineError("the emulator exited: \(printed)") }
                    printed += String(decoding: chunk, as: UTF8.self)
                }
            }
        }
        func control(_ command: String) throws {
            try controlPipe.writer.writeAll(Array((command + "\n").utf8), timeoutMilliseconds: 5000)
        }
        try readUntil("type 'help'")

        var port = try SerialPort.open(link, baud: 115_200, hardwareFlowControl: false)
        var seen = ""
        func exchange(_ line: String, until needle: String, seconds: Double = 10) throws {
            seen = ""
            try port.writeAll(Array((line + "\r").utf8), timeoutMilliseconds: 5000)
            let deadline = DispatchTime.now() + seconds
            while !seen.contains(needle) {
                guard DispatchTime.now() < deadline else { throw LineError("no \(needle) after \(line): \(seen)") }
                if try port.poll(events: Int16(POLLIN), timeoutMilliseconds: 100) != 0 {
                    seen += String(decoding: try port.read(upTo: 4096), as: UTF8.self)
                }
            }
        }
        // The modem may still be booting (its RDY went out before we opened the port): probe like a driver does.
        var probes = 0
        while (try? exchange("AT", until: "OK", seconds: 0.5)) == nil {
            probes += 1
            try #require(probes < 20, "the emulator never answered AT")
        }
        try exchange("ATE0", until: "OK")
        try exchange("ATD+3292000101;", until: "OK")
        try exchange("AT+CCWA=1,0", until: "OK")  // answered after 0.5 s of real time

        try control("status")
        try readUntil("status calls=1 ")
        let status = try #require(printed.split(separator: "\n").last { $0.hasPrefix("status ") })
        #expect(status.contains(" dialled=1 "))
        #expect(status.contains(" supplementary=1 "))
        #expect(status.contains(" callWaiting=off "))

        // The daemon "dies": its port closes; a new one opens it and finds the call.
        try port.close()
        port = try SerialPort.open(link, baud: 115_200, hardwareFlowControl: false)
        defer { _ = try? port.close() }
        try exchange("AT+CLCC", until: "OK")
        #expect(seen.contains("+CLCC: 1,0,"))
        try exchange("ATH", until: "OK")
        try exchange("AT+CEER", until: "OK")
        #expect(seen.contains("+CEER: \"0 Unknown\""))

        printed = ""
        try control("status")
        try readUntil("status calls=0 ")
        #expect(printed.contains(" hangupAllWithCalls=1 "))
        // The control pipe ends, and --keep-running keeps the modem up for the next daemon.
        controlOpen = false
        try controlPipe.writer.close()
        try readUntil("control input ended")
        try exchange("AT", until: "OK")
        #expect(child.stop() == 0)
    }
}
