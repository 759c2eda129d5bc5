import AlarmCodecs
import AlarmCore
import HAL
import Logging
import Synchronization

/// Runs AT commands one at a time over a byte stream: a priority queue (call control first), a timeout per
/// command on the injected clock, final results and intermediate lines per command, and every unsolicited
/// result code routed out wherever it arrives — also in the middle of another command's response.
///
/// State changes happen under one lock; writes, completions and URC callbacks are collected there and
/// performed after it is released, so callbacks may submit new commands straight away.
public final class ATEngine: Sendable {
    private struct Pending {
        var id: Int
        var command: ATCommand
        var completion: @Sendable (ATOutcome) -> Void
    }

    private struct InFlight {
        var pending: Pending
        var lines: [String] = []
        var promptAnswered = false
        var timer: (any Cancellable)?
        /// The engine's own resynchronisation command after a timeout (see `needsResync`).
        var isSync = false
    }

    private struct State {
        var queue: [Pending] = []
        var inFlight: InFlight?
        var nextID = 0
        var decoder = StreamFramer(ATStreamDecoder())
        var echo = true
        var consecutiveTimeouts = 0
        var garbageBytes = 0
        var connected = true
        var idleWaiters: [@Sendable () -> Void] = []
        /// Batches of actions taken under the lock but not yet performed (completions still to run).
        var performing = 0
        /// A command timed out, so its answer may still arrive and would complete the *next* command (a
        /// +CLCC poll completed by someone else's OK has no call lines: the centre call would look ended).
        /// Before the next queued command, the engine sends AT+CSQ and discards every final result until
        /// one follows a +CSQ line: from then on answers and commands are paired again.
        var needsResync = false
        /// Response prefixes of the commands (syncs included) that timed out since the line was last in step:
        /// their late answers may still come, so the next sync must use a command whose answer looks different.
        var staleAnswerPrefixes: Set<String> = []
    }

    private enum Action {
        case write([UInt8])
        case complete(@Sendable (ATOutcome) -> Void, ATOutcome)
        case unsolicited(ATUnsolicited)
        case arm(id: Int, timeout: Duration)
        case log(String)
    }

    private let clock: any Clock
    private let logger: Logger
    private let write: @Sendable ([UInt8]) -> Void
    private let unsolicited: @Sendable (ATUnsolicited) -> Void
    private let state = Mutex(State())

    public init(clock: any Clock, logger: Logger, write: @escaping @Sendable ([UInt8]) -> Void,
                unsolicited: @escaping @Sendable (ATUnsolicited) -> Void) {
        self.clock = clock
        self.logger = logger
        self.write = write
        self.unsolicited = unsolicited
    }

    // MARK: Commands

    public func submit(_ command: ATCommand, completion: @escaping @Sendable (ATOutcome) -> Void = { _ in }) {
        let actions = decide { state -> [Action] in
            guard state.connected else { return [.complete(completion, .aborted)] }
            state.nextID += 1
            let pending = Pending(id: state.nextID, command: command, completion: completion)
            // Stable: FIFO within a priority.
            let index = state.queue.firstIndex { $0.command.priority > command.priority } ?? state.queue.endIndex
            state.queue.insert(pending, at: index)
            return Self.startNext(&state)
        }
        perform(actions)
    }

    /// Submits and waits for nothing; the outcome arrives on `completion`. Convenience for a list run in order.
    public func run(_ commands: [ATCommand], completion: @escaping @Sendable ([ATOutcome]) -> Void) {
        guard let first = commands.first else {
            completion([])
            return
        }
        submit(first) { [self] outcome in
            run(Array(commands.dropFirst())) { rest in completion([outcome] + rest) }
        }
    }

    /// Consecutive commands that got no answer at all: the driver's cue to re-initialise the modem.
    public var consecutiveTimeouts: Int { state.withLock { $0.consecutiveTimeouts } }
    public var garbageBytes: Int { state.withLock { $0.garbageBytes } }
    /// Every decision taken has been carried out (writes done, completions and URC callbacks run);
    /// a command may still be in flight, waiting for the modem or its timeout.
    public var hasNoPendingActions: Bool { state.withLock { $0.performing == 0 } }

    /// Nothing queued, nothing in flight, and every completion has run.
    public var isIdle: Bool { state.withLock { Self.idle($0) } }

    private static func idle(_ state: State) -> Bool {
        state.inFlight == nil && state.queue.isEmpty && state.performing == 0
    }

    /// Calls `callback` once nothing is queued or in flight (at once if that is already so). For tests and
    /// benchmarks that must know the modem conversation has settled without sleeping.
    public func whenIdle(_ callback: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if Self.idle(state) { return true }
            state.idleWaiters.append(callback)
            return false
        }
        if now { callback() }
    }

    /// Echo is on after a modem reset until ATE0 succeeds; the engine then stops expecting echoed commands.
    public func setEcho(_ on: Bool) { state.withLock { $0.echo = on } }

    /// The next command is preceded by a resynchronisation (answers to earlier commands may still arrive,
    /// e.g. after start-up probes that timed out).
    public func resyncBeforeNextCommand() { state.withLock { $0.needsResync = true } }

    /// The modem has just said it booted (RDY): the command in flight, if `unheard` says the modem cannot have
    /// listened to it, ends now as `.aborted` (the modem restarted before it finished) instead of timing out at its
    /// deadline. Returns whether one did. Not counted as a timeout: the modem was not there to answer.
    @discardableResult
    public func abortInFlight(if unheard: (ATCommand) -> Bool) -> Bool {
        var expired = false
        let actions = decide { state -> [Action] in
            guard let inFlight = state.inFlight, !inFlight.isSync, unheard(inFlight.pending.command) else { return [] }
            inFlight.timer?.cancel()
            state.inFlight = nil
            state.staleAnswerPrefixes.formUnion(inFlight.pending.command.responsePrefixes)
            expired = true
            return [.complete(inFlight.pending.completion, .aborted)] + Self.startNext(&state)
        }
        perform(actions)
        return expired
    }

    /// The port went away or the modem restarted: everything waiting fails with `.aborted`.
    public func abortAll(reconnecting: Bool = true) {
        let actions = decide { state -> [Action] in
            var actions: [Action] = []
            if let inFlight = state.inFlight {
                inFlight.timer?.cancel()
                actions.append(.complete(inFlight.pending.completion, .aborted))
            }
            actions += state.queue.map { .complete($0.completion, .aborted) }
            state.inFlight = nil
            state.queue.removeAll()
            state.decoder = StreamFramer(ATStreamDecoder())
            state.echo = true
            state.needsResync = false
            state.staleAnswerPrefixes = []
            state.connected = reconnecting
            return actions
        }
        perform(actions)
    }

    /// Runs `body` under the lock and counts the batch as being performed until `perform` finishes it,
    /// so "idle" never shows between a decision and its completions.
    private func decide(_ body: (inout State) -> [Action]) -> [Action] {
        state.withLock { state in
            let actions = body(&state)
            state.performing += 1
            return actions
        }
    }

    // MARK: Bytes in

    public func receive(_ bytes: [UInt8]) {
        let actions = decide { state -> [Action] in
            var actions: [Action] = []
            for line in state.decoder.feed(bytes) {
                actions += Self.route(line, &state)
            }
            return actions
        }
        perform(actions)
    }

    private static func route(_ line: ATLine, _ state: inout State) -> [Action] {
        switch line {
        case .garbage(let count):
            state.garbageBytes += count
            return [.log("skipped \(count) garbage byte(s) on the AT port")]
        case .prompt:
            guard var inFlight = state.inFlight, let payload = inFlight.pending.command.payload, !inFlight.promptAnswered else {
                return []
            }
            inFlight.promptAnswered = true
            state.inFlight = inFlight
            return [.write(payload)]
        case .text(let text):
            return routeText(text, &state)
        }
    }

    private static func routeText(_ text: String, _ state: inout State) -> [Action] {
        if ATUnsolicited.isAlwaysUnsolicited(text) { return unsolicitedLine(text) }
        guard var inFlight = state.inFlight else { return unsolicitedLine(text) }
        let command = inFlight.pending.command
        if state.echo, text == command.text { return [] }
        if inFlight.isSync {
            if inFlight.pending.command.responsePrefixes.contains(where: { text.hasPrefix($0) }) {
                inFlight.lines.append(text)
                state.inFlight = inFlight
                return []
            }
            guard let final = ATFinalResult.parse(text), !Self.isCallResult(final) else { return unsolicitedLine(text) }
            guard !inFlight.lines.isEmpty else {
                return [.log("late answer \(text) to a timed-out command discarded")]
            }
            inFlight.timer?.cancel()
            state.inFlight = nil
            state.needsResync = false
            state.staleAnswerPrefixes = []
            state.consecutiveTimeouts = 0
            return startNext(&state)
        }
        if let final = ATFinalResult.parse(text) {
            if Self.isCallResult(final) && !command.isCallSetup { return unsolicitedLine(text) }
            inFlight.timer?.cancel()
            state.inFlight = nil
            state.consecutiveTimeouts = 0
            return [.complete(inFlight.pending.completion, .completed(final, lines: inFlight.lines))] + startNext(&state)
        }
        if command.responsePrefixes.contains(where: { text.hasPrefix($0) })
            || (command.acceptsBareLines && !text.hasPrefix("+") && !text.hasPrefix("^")) {
            inFlight.lines.append(text)
            state.inFlight = inFlight
            return []
        }
        return unsolicitedLine(text)
    }

    /// NO CARRIER, BUSY, NO ANSWER, NO DIALTONE: final results of ATD/ATA, otherwise news of a call ending.
    private static func isCallResult(_ result: ATFinalResult) -> Bool {
        [.noCarrier, .busy, .noAnswer, .noDialtone].contains(result)
    }

    private static func unsolicitedLine(_ text: String) -> [Action] {
        if let final = ATFinalResult.parse(text), isCallResult(final) { return [.unsolicited(.noCarrier)] }
        // A URC with an unclosed quote was cut short (line noise, a dropped byte run) and the next line
        // ending closed it: `+CLIP: "+3247` would otherwise announce a call from a number nobody dialled.
        // 27.007 URCs always close their string fields, so an odd quote count is never a whole URC.
        if text.utf8.count(where: { $0 == UInt8(ascii: "\"") }) % 2 == 1 {
            return [.log("truncated line on the AT port ignored: \(text.prefix(60))")]
        }
        if let urc = ATUnsolicited.parse(text) { return [.unsolicited(urc)] }
        return [.log("unexpected line on the AT port ignored: \(text.prefix(60))")]
    }

    private static func startNext(_ state: inout State) -> [Action] {
        guard state.inFlight == nil, !state.queue.isEmpty else { return [] }
        if state.needsResync {
            state.nextID += 1
            let sync = syncCommands.first { !state.staleAnswerPrefixes.contains($0.responsePrefixes[0]) } ?? syncCommands[0]
            state.inFlight = InFlight(pending: Pending(id: state.nextID, command: sync, completion: { _ in }), isSync: true)
            return [.write(Array((sync.text + "\r").utf8)), .arm(id: state.nextID, timeout: sync.timeout)]
        }
        let next = state.queue.removeFirst()
        state.inFlight = InFlight(pending: next)
        return [.write(Array((next.command.text + "\r").utf8)), .arm(id: next.id, timeout: next.command.timeout)]
    }

    private func timedOut(_ id: Int) {
        let actions = decide { state -> [Action] in
            guard let inFlight = state.inFlight, inFlight.pending.id == id else { return [] }
            state.inFlight = nil
            state.consecutiveTimeouts += 1
            state.staleAnswerPrefixes.formUnion(inFlight.pending.command.responsePrefixes)
            if inFlight.isSync {
                // Still no answer: the command waiting behind the resync fails in its place, so the driver's
                // hang detection sees every timeout; the next command tries to resync again.
                guard !state.queue.isEmpty else { return [] }
                let victim = state.queue.removeFirst()
                return [.log("modem still silent after a timeout"), .complete(victim.completion, .timedOut)]
                    + Self.startNext(&state)
            }
            if inFlight.pending.command.resyncAfterTimeout { state.needsResync = true }
            // An SMS stuck at its prompt (or whose Ctrl-Z was lost) would swallow the next command as message
            // text: cancel it with ESC.
            let escape: [Action] = inFlight.pending.command.payload != nil ? [.write([0x1B])] : []
            return escape + [.log("\(inFlight.pending.command.logText) timed out"),
                             .complete(inFlight.pending.completion, .timedOut)] + Self.startNext(&state)
        }
        perform(actions)
    }

    /// Takes the actions decided under the lock; `performing` was counted there (see `decide`).
    private func perform(_ actions: [Action]) {
        defer {
            let waiters = state.withLock { state -> [@Sendable () -> Void] in
                state.performing -= 1
                guard Self.idle(state) else { return [] }
                defer { state.idleWaiters.removeAll() }
                return state.idleWaiters
            }
            for waiter in waiters { waiter() }
        }
        for action in actions {
            switch action {
            case .write(let bytes): write(bytes)
            case .complete(let completion, let outcome): completion(outcome)
            case .unsolicited(let urc): unsolicited(urc)
            case .arm(let id, let timeout):
                let timer = clock.schedule(after: timeout) { [self] in timedOut(id) }
                let stale = state.withLock { state -> Bool in
                    guard state.inFlight?.pending.id == id else { return true }
                    state.inFlight?.timer = timer
                    return false
                }
                if stale { timer.cancel() }
            case .log(let text): logger.warning("\(text)")
            }
        }
    }
}

/// Harmless queries every modem answers with one prefixed line, used in turn to resynchronise after a
/// timeout (the one chosen never shares its answer's prefix with a command that may still answer late).
/// Never +CREG or +CPIN: they also arrive as URCs, which would be taken for the sync's answer.
private let syncCommands = [
    ATCommand("AT+CSQ", expecting: ["+CSQ:"]),
    ATCommand("AT+COPS?", expecting: ["+COPS:"]),
]
