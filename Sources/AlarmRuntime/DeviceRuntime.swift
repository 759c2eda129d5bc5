import AlarmCodecs
import Dispatch
import FoundationEssentials
import AlarmCore
import HAL
import Logging
import Synchronization

/// The thin runtime around the pure core: it stamps what the backends report with the injected
/// clock, feeds it to `AlarmMachine.step` one event at a time, and executes the effects on the
/// backends. Results come back as new events; nothing here waits for anything.
///
/// The core is never entered twice at once. On the device (`EventLoop.dedicated`) one serial queue runs the core and
/// every effect: backends' reader threads and timers only enqueue, so no reader ever ends up running the core (and
/// a journal fsync) while its own input waits. In tests on a manual clock (`.callerThread`) whichever thread posts
/// while the loop is idle drains it, so a whole scenario runs synchronously on the test's thread.
public final class DeviceRuntime: Sendable {
    public enum EventLoop: Sendable, Equatable {
        /// A trampoline: the posting thread drains the inbox when nobody else is (tests on a manual clock).
        case callerThread
        /// One explicit serial queue owns the core and the effects (the daemon).
        case dedicated
    }

    public struct Identity: Sendable {
        public var deviceID: String
        public var boardName: String
        /// The provisioning bundle the device runs on (`ProvisioningStatus.summary`); nil: none.
        public var provisioning: String?
        public init(deviceID: String, boardName: String, provisioning: String? = nil) {
            self.deviceID = deviceID
            self.boardName = boardName
            self.provisioning = provisioning
        }
    }

    struct Inner {
        var state = AlarmState()
        /// Events waiting to be processed (a timer event carries the generation of the timer that fired), and work
        /// handed to the loop with `perform`, in the order they arrived.
        var inbox: [Queued] = []
        var draining = false
        var timers: [TimerID: (generation: Int, token: (any Cancellable)?)] = [:]
        var timerGeneration = 0
        var observers: [Int: @Sendable (TimelineRecord) -> Void] = [:]
        var nextObserver = 0
        var audioFrames = 0
        var audioFaults = 0
        /// Report frames the link actually wrote to its socket (each resend counts).
        var reportsTransmitted = 0
        var linkState = "unknown"
        var dataPath = "unsupervised"
        /// The button backend's last word on its device ("not supervised" for a backend that cannot say).
        var buttonDevice = "not supervised"
        var bootedAt: Instant = .origin
        var started = false
        var persistedSequence = 0
        var lastFixPersistedAt: Instant?
        var fixLost = false
        /// The most recent records, replayed to a new watcher so it sees the boot too.
        var history: [TimelineRecord] = []
        /// What the journal holds now (nothing is written when this does not change).
        var journalled: DurableState?
        /// The newest state handed to the journal writer, its generation, and the newest generation stored.
        var journalRequested: DurableState?
        var journalGeneration = 0
        var journalStored = 0
        var journalPending: (state: DurableState, generation: Int)?
        var journalWriting = false
        var journalWroteOnce = false
        /// Reports and SMS of a step, waiting for an entry of their generation to be stored.
        var journalWaiting: [(generation: Int, release: @Sendable () -> Void)] = []
        var journalFailing = false
        /// Set once the journal has been read at start: until then nothing is written to it.
        var journalRead = false
        /// The process "lost power" (fault scenarios): nothing more is processed.
        var dead = false
    }

    public let machine: AlarmMachine
    public let identity: Identity
    let clock: any Clock
    let backends: Backends
    let haptics: Haptics
    let silence: SilenceMethod
    let logger: Logger
    let inner = Mutex(Inner())
    /// Storage writes (fsync'd) happen here, never on the thread that processes events: a button edge must
    /// not wait behind an SD card's flush.
    let persistQueue = DispatchQueue(label: "alarmd.persist")
    let microphoneSelfTest: MicrophoneSelfTest?
    let bootID = DeviceRuntime.bootID()
    let eventLoop: EventLoop
    /// The event loop's queue (`.dedicated`): the core and every effect run here and nowhere else.
    let loopQueue = DispatchQueue(label: "alarmd.event-loop", qos: .userInteractive)

    static let sequenceRecord = "report-sequence"
    static let lastFixRecord = "last-fix"
    /// How often the last good fix is written (sealed): often enough for a cold boot to start near the
    /// truth, rarely enough for an SD card.
    static let lastFixPersistInterval: Duration = .seconds(60)

    public init(machine: AlarmMachine, identity: Identity, clock: any Clock, backends: Backends,
                haptics: Haptics = Haptics(), silence: SilenceMethod, logger: Logger,
                microphoneTestInterval: Duration? = .seconds(6 * 3600), eventLoop: EventLoop = .callerThread) {
        self.eventLoop = eventLoop
        microphoneSelfTest = backends.audio != nil ? microphoneTestInterval.map(MicrophoneSelfTest.init) : nil
        self.machine = machine
        self.identity = identity
        self.clock = clock
        self.backends = backends
        self.haptics = haptics
        self.silence = silence
        self.logger = logger
    }

    // MARK: Start

    /// Enforces silence, restores persisted counters and starts every backend. A backend that fails
    /// to start is logged and left out: the alarm proceeds with whatever works.
    public func start() throws(HALError) {
        try enforceSilence()
        // Nothing is processed until every backend listens: a resumed alarm's dial issued before the calls
        // backend had its handler lost the modem's "not ready" answer, and the alarm sat in "dialling" forever
        // (found by the HIL power-cut scenario). Inputs posted meanwhile queue up in order, the resume first.
        inner.withLock { $0.draining = true }
        // The journal first: nothing may be journalled (and compact it away) before it has been read.
        restoreJournal()
        restoreSequence()
        restoreLastFix()
        let now = clock.now()
        inner.withLock { $0.bootedAt = now; $0.started = true }
        publish(.boot, "device \(identity.deviceID) on board \(identity.boardName) started")
        logger.info("alarmd started", metadata: ["device": "\(identity.deviceID)", "board": "\(identity.boardName)"])

        attempt("network monitor") { () throws(HALError) in
            try backends.network.start { [self] status in post(.network(status)) }
        }
        attempt("voice calls") { () throws(HALError) in
            try backends.calls.start { [self] event in
                switch event {
                case .progress(let id, let progress): post(.call(id, progress))
                case .incoming(let id, let caller): post(.incomingCall(id, caller: caller))
                case .existing(let call): post(.existingCall(call))
                }
            }
        }
        attempt("report link") { () throws(HALError) in
            try backends.reportLink.start { [self] event in linkEvent(event) }
        }
        attempt("position source") { () throws(HALError) in
            try backends.position.start { [self] update in
                switch update {
                case .fix(let fix): post(.fix(fix))
                case .lost: post(.fixLost)
                }
            }
        }
        if let power = backends.power {
            attempt("power monitor") { () throws(HALError) in try power.start { [self] status in post(.power(status)) } }
        }
        attempt("button") { () throws(HALError) in
            let edges: @Sendable (ButtonEdge, Instant) -> Void = { [self] edge, at in post(.button(edge), at: at) }
            if let supervised = backends.button as? any SupervisedButtonInput {
                try supervised.start(edges) { [self] health, at in buttonHealthChanged(health, at: at) }
            } else {
                try backends.button.start(edges)
            }
        }
        // Evidence needs the seconds before the press: the microphone runs from the start.
        if backends.evidence != nil { startMicrophone() }
        post(.started)
        scheduleMicrophoneSelfTest(after: .milliseconds(500))
        inner.withLock { $0.draining = false }
        perform {}
    }

    private func attempt(_ what: String, _ body: () throws(HALError) -> Void) {
        do {
            try body()
        } catch {
            logger.error("\(what) did not start; the alarm goes on without it", metadata: ["error": "\(error)"])
            publish(.device, "\(what) unavailable: \(error.kind.rawValue)")
        }
    }

    /// Silence is a property of the board; the runtime refuses to run if it cannot guarantee it.
    private func enforceSilence() throws(HALError) {
        guard silence == .amplifierOff else { return }
        guard let line = backends.amplifierEnable else {
            throw HALError(.unavailable, "silence \"amplifier-off\" needs an amplifierEnable line")
        }
        try line.set(active: false)
    }

    /// The separate sequence record predates the journal and is written lazily: when the journal brought a state
    /// back, its sequence is the true one (the record may lag behind it after a SIGKILL, and reusing a sequence
    /// would make the centre drop a new report as a duplicate).
    private func restoreSequence() {
        if inner.withLock({ $0.journalled != nil }) { return }
        do {
            guard let bytes = try backends.store.load(Self.sequenceRecord),
                  let value = Int(String(decoding: bytes, as: UTF8.self)), (1...9999).contains(value) else { return }
            inner.withLock { $0.state.nextSequence = value; $0.persistedSequence = value }
        } catch {
            logger.warning("could not read the report sequence; starting at 1", metadata: ["error": "\(error)"])
        }
    }

    private func restoreLastFix() {
        do {
            guard let bytes = try backends.store.load(Self.lastFixRecord) else { return }
            let fix = try JSONDecoder().decode(Fix.self, from: Data(bytes))
            let ageMilliseconds = clock.wallTime().millisecondsSince1970 - fix.fixTime.millisecondsSince1970
            // A wall clock behind the stored fix (no RTC, not yet synced) cannot tell its age: an old position
            // must never pass for a current one, so it is not restored at all.
            guard ageMilliseconds >= -60_000 else {
                logger.warning("last known position not restored: the wall clock is behind it (not yet synced?)")
                return
            }
            let age = Duration.milliseconds(max(0, ageMilliseconds))
            post(.restoredFix(fix, age: age))
            logger.info("last known position restored", metadata: ["age": "\(Self.seconds(age))"])
        } catch {
            logger.warning("no usable last known position", metadata: ["error": "\(error)"])
        }
    }

    /// Simulates sudden death for in-process fault scenarios: every timer is dropped and nothing is processed any
    /// more, exactly as if the process had been killed (storage keeps what was written).
    public func stopForPowerLoss() {
        let timers = inner.withLock { inner -> [(any Cancellable)?] in
            inner.dead = true
            defer { inner.timers.removeAll(); inner.inbox.removeAll() }
            return inner.timers.values.map(\.token)
        }
        for token in timers { token?.cancel() }
    }

    /// Waits until every evidence chunk decided so far is stored (tests, shutdown).
    public func flushEvidence() { backends.evidence?.flush() }

    /// Shutdown (after the backends stopped): the recording being made is closed, its last partial chunk sealed and
    /// stored, and waited for. The alarm itself is not ended: it resumes from the journal after the restart.
    public func closeEvidence() {
        backends.evidence?.alarmEnded()
        backends.evidence?.flush()
    }

    /// Waits until every storage write decided so far has reached storage (for shutdown and tests).
    public func flushPersistence() { persistQueue.sync {} }

    private func persistLastFixIfDue(_ state: AlarmState) {
        guard let last = state.lastFix, last.fix.source == .gnss, last.fix.horizontalAccuracy.isFinite else { return }
        let now = clock.now()
        let due = inner.withLock { inner -> Bool in
            if let at = inner.lastFixPersistedAt, now - at < Self.lastFixPersistInterval { return false }
            inner.lastFixPersistedAt = now
            return true
        }
        guard due, let encoded = try? JSONEncoder().encode(last.fix) else { return }
        let bytes = Array(encoded)
        let store = backends.store
        let logger = self.logger
        persistQueue.async {
            do {
                try store.save(Self.lastFixRecord, bytes)
            } catch {
                logger.error("could not persist the last known position", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Events in

    /// Hands an input to the core, stamped now (or at the instant the backend observed it).
    public func post(_ input: Input, at instant: Instant? = nil) {
        enqueue(Event(input, at: instant ?? clock.now()), timerGeneration: nil)
    }

    enum Queued {
        case event(Event, timerGeneration: Int?)
        case work(@Sendable () -> Void)
    }

    /// Runs `work` on the runtime's event loop, after the events already waiting: proof that the loop still turns
    /// (the service watchdog pings from here, so a loop stuck in an effect stops the pings). Runs at once on the
    /// caller's thread when the loop is idle; never runs once the runtime is dead.
    public func perform(_ work: @escaping @Sendable () -> Void) {
        enqueue(.work(work))
    }

    private func enqueue(_ event: Event, timerGeneration: Int?) {
        enqueue(.event(event, timerGeneration: timerGeneration))
    }

    private func enqueue(_ item: Queued) {
        let mustDrain = inner.withLock { inner in
            if inner.dead { return false }
            inner.inbox.append(item)
            if inner.draining { return false }
            inner.draining = true
            return true
        }
        guard mustDrain else { return }
        switch eventLoop {
        case .callerThread: drain()
        case .dedicated: loopQueue.async { [self] in drain() }
        }
    }

    /// Processes the inbox until it is empty; only ever one caller at a time (`draining`).
    private func drain() {
        while let next = inner.withLock({ inner -> Queued? in
            if inner.inbox.isEmpty {
                inner.draining = false
                return nil
            }
            return inner.inbox.removeFirst()
        }) {
            switch next {
            case .event(let event, let timerGeneration): process(event, timerGeneration: timerGeneration)
            case .work(let work): work()
            }
        }
    }

    private func process(_ event: Event, timerGeneration: Int?) {
        let stepped = inner.withLock { inner -> (AlarmState, AlarmState, [Effect])? in
            if let generation = timerGeneration, case .timer(let id) = event.input {
                // Restarted or cancelled after it fired but before it was processed: a stale timer.
                guard inner.timers[id]?.generation == generation else { return nil }
                inner.timers[id] = nil
            }
            let before = inner.state
            let (after, effects) = machine.step(before, event)
            inner.state = after
            return (before, after, effects)
        }
        guard let (before, after, effects) = stepped else { return }
        // Call control first: the dial is the first thing an alarm writes to the modem, ahead of the journal's fsync
        // (10–500 ms on an SD card). If the daemon dies before the entry is on flash the press is lost either way;
        // a report, whose sequence must never be reused, goes only after its entry is stored.
        for effect in effects where effect.isCallControl { controlCall(effect) }
        // On the daemon's loop the entry is written off the loop; the step's reports wait for it (Journal.swift).
        let holdsReports = eventLoop == .dedicated && backends.journal != nil
        let held = holdsReports ? effects.filter(\.waitsForJournal) : []
        let at = event.at
        var release: (@Sendable () -> Void)?
        if !held.isEmpty {
            release = { [self] in
                for effect in held { execute(effect, state: after, at: at) }
            }
        }
        journal(after, release: release)
        if let bridge = backends.voiceBridge {
            let was = before.call?.connected ?? false, now = after.call?.connected ?? false
            if now && !was { bridge.start() } else if was && !now { bridge.stop() }
        }
        describe(event, before: before, after: after)
        for effect in effects where !(holdsReports && effect.waitsForJournal) { execute(effect, state: after, at: event.at) }
        // After the effects: the dial and the alarm report never wait for flash.
        persistSequenceIfNeeded(after.nextSequence)
        if case .fix = event.input { persistLastFixIfDue(after) }
    }

    private func linkEvent(_ event: ReportLinkEvent) {
        switch event {
        case .outcome(let sequence, let outcome): post(.report(sequence: sequence, outcome))
        case .command(let command): post(.centre(command))
        case .transmitted(let sequence):
            // On the loop, so the record lands in order with the step that queued it.
            perform { [self] in reportTransmitted(sequence) }
        case .linkUp:
            inner.withLock { $0.linkState = "up" }
            publish(.device, "report link up")
        case .linkDown(let kind):
            inner.withLock { $0.linkState = "down (\(kind.rawValue))" }
            publish(.device, "report link down: \(kind.rawValue)")
        }
    }

    /// The button backend's word on its device: the timeline and log say what happened, the core decides whether
    /// it is trouble (after its grace), status shows it.
    private func buttonHealthChanged(_ health: ButtonDeviceHealth, at instant: Instant) {
        switch health {
        case .opened:
            inner.withLock { $0.buttonDevice = "ok" }
            post(.buttonHealth(.available), at: instant)
        case .lost(let reason):
            inner.withLock { $0.buttonDevice = "lost (\(reason)), reopening" }
            publish(.device, "button device lost (\(reason)); reopening")
            logger.warning("button device lost", metadata: ["reason": "\(reason)"])
            post(.buttonHealth(.lost), at: instant)
        case .reopened:
            inner.withLock { $0.buttonDevice = "ok (reopened)" }
            publish(.device, "button device reopened")
            logger.notice("button device reopened")
            post(.buttonHealth(.available), at: instant)
        }
    }

    /// The data supervisor's verdict: the core decides what it means, status shows why.
    public func dataPathChanged(_ path: DataPath, detail: String) {
        inner.withLock { $0.dataPath = "\(path.rawValue) (\(detail))" }
        post(.dataPath(path))
    }

    private func persistSequenceIfNeeded(_ next: Int) {
        let changed = inner.withLock { inner in
            defer { inner.persistedSequence = next }
            return inner.persistedSequence != next
        }
        guard changed else { return }
        let store = backends.store
        let logger = self.logger
        persistQueue.async {
            do {
                try store.save(Self.sequenceRecord, Array(String(next).utf8))
            } catch {
                // The centre drops duplicates by sequence; losing the counter risks reuse after a restart, not an alarm.
                logger.error("could not persist the report sequence", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Effects out

    /// `at`: the instant of the event that decided the effect (a timer runs from it, not from when it is executed).
    private func execute(_ effect: Effect, state: AlarmState, at decided: Instant) {
        switch effect {
        case .startTimer(let id, let delay):
            // From the event's own instant: a press read (or processed) late still raises its alarm exactly
            // `triggerHold` after the kernel saw the edge.
            startTimer(id, at: decided + delay)
        case .cancelTimer(let id):
            let timer = inner.withLock { $0.timers.removeValue(forKey: id) }
            timer?.token?.cancel()
        // Call control was carried out before the journal (see `process`); here it is only told.
        case .dial(let id, let number):
            publish(.dial, "dialling \(number) (\(id))")
            logger.info("dial", metadata: ["call": "\(id)", "number": "\(number)"])
        case .hangUp(let id):
            publish(.call, "hanging up \(id)")
        case .answer(let id):
            publish(.call, "answering \(id) silently")
        case .reject:
            break
        case .sendReport(let report):
            // "Queued": handed to the link, which may hold it behind an unanswered frame. "Sent" is said when the
            // link has written it to its socket (`reportTransmitted`).
            let attempts = state.outbox[report.sequence]?.attempts ?? 1
            let verb = attempts > 1 ? "queued again (attempt \(attempts))" : "queued"
            publish(.report, "report #\(report.sequence) \(report.kind.rawValue) \(verb): \(Self.summary(of: report))")
            logger.info("report \(verb)", metadata: ["seq": "\(report.sequence)", "kind": "\(report.kind.rawValue)",
                                                    "position": "\(Self.summary(of: report))"])
            (backends.reportLink as? any DeviceStateReporting)?
                .setDeviceState(battery: state.power?.batteryPercent, signal: state.network.status.signal)
            backends.reportLink.send(report)
        case .sendSMS(let number, let report):
            publish(.sms, "SMS fallback for report #\(report.sequence) to \(number)")
            let sequence = report.sequence
            let text: String
            do {
                text = try backends.smsText?(report, state.power?.batteryPercent, state.network.status.signal)
                    ?? FallbackSMS.text(deviceID: identity.deviceID, report: report)
            } catch {
                // The alarm must still go out: the plain text, which the centre reads too.
                logger.error("fallback SMS could not be sealed; sending it in plain text", metadata: ["error": "\(error)"])
                text = FallbackSMS.text(deviceID: identity.deviceID, report: report)
            }
            backends.sms.send(text: text, to: number) { [self] result in
                switch result {
                case .success: post(.sms(sequence: sequence, accepted: true))
                case .failure(let error):
                    logger.warning("fallback SMS not accepted", metadata: ["error": "\(error)"])
                    post(.sms(sequence: sequence, accepted: false))
                }
            }
        case .indicate(let indication):
            publish(.indicator, "vibrate \(indication.rawValue)")
            backends.vibrator?.vibrate(haptics.pattern(for: indication))
        case .setPositionRate(let rate):
            backends.position.setRate(rate)
        case .captureAudio(let on):
            setAudio(on)
        case .announce(let milestone):
            announce(milestone)
        }
    }

    /// The modem side of a call-control effect.
    private func controlCall(_ effect: Effect) {
        switch effect {
        case .dial(let id, let number): backends.calls.dial(id, number: number)
        case .hangUp(let id): backends.calls.perform(.hangUp, on: id)
        case .answer(let id): backends.calls.perform(.answer, on: id)
        case .reject(let id): backends.calls.perform(.reject, on: id)
        default: break
        }
    }

    /// The link wrote report `sequence` to its socket.
    private func reportTransmitted(_ sequence: Int) {
        let pending = inner.withLock { inner -> PendingReport? in
            inner.reportsTransmitted += 1
            return inner.state.outbox[sequence]
        }
        let attempts = pending?.attempts ?? 1
        let verb = attempts > 1 ? "resent (attempt \(attempts))" : "sent"
        publish(.report, "report #\(sequence) \(pending?.report.kind.rawValue ?? "report") \(verb) to the receiver")
        logger.debug("report written to the link", metadata: ["seq": "\(sequence)", "attempt": "\(attempts)"])
    }

    /// The timer is recorded before it is scheduled, so even a zero delay firing at once on another thread
    /// finds it; a timer cancelled or restarted while its callback was on its way never reaches the core.
    private func startTimer(_ id: TimerID, at deadline: Instant) {
        let (generation, previous) = inner.withLock { inner -> (Int, (any Cancellable)?) in
            inner.timerGeneration += 1
            let previous = inner.timers[id]?.token
            inner.timers[id] = (inner.timerGeneration, nil)
            return (inner.timerGeneration, previous)
        }
        previous?.cancel()
        let token = clock.schedule(at: deadline) { [self] in
            let current = inner.withLock { $0.timers[id]?.generation == generation }
            if current { enqueue(Event(.timer(id), at: clock.now()), timerGeneration: generation) }
        }
        let stale = inner.withLock { inner -> Bool in
            guard inner.timers[id]?.generation == generation else { return true }
            inner.timers[id]?.token = token
            return false
        }
        if stale { token.cancel() }
    }

    private func setAudio(_ on: Bool) {
        if let evidence = backends.evidence, backends.audio != nil {
            if on {
                let number = inner.withLock { $0.state.activeAlarm?.number ?? 0 }
                evidence.alarmStarted(number: number, atUTC: clock.wallTime().millisecondsSince1970)
                publish(.device, "evidence recording started")
            } else {
                evidence.alarmEnded()
                publish(.device, "evidence recording closed")
            }
            return
        }
        guard let audio = backends.audio else { return }
        if on {
            microphoneSelfTest?.abandon()
            do {
                try audio.start { [self] result in _ = captured(result) }
                publish(.device, "microphone capture on")
            } catch {
                logger.error("microphone did not start; the call still carries the modem's own microphone path",
                             metadata: ["error": "\(error)"])
                publish(.device, "microphone unavailable: \(error.kind.rawValue)")
            }
        } else {
            audio.stop()
            publish(.device, "microphone capture off")
        }
    }

    /// Every captured frame: counted, and into the listen-in bridge while a call has it open; a fault is counted
    /// and logged. Returns the frame for the caller's own use.
    private func captured(_ result: Result<AudioFrame, HALError>) -> AudioFrame? {
        switch result {
        case .success(let frame):
            inner.withLock { $0.audioFrames += 1 }
            backends.voiceBridge?.push(frame)
            return frame
        case .failure(let error):
            inner.withLock { $0.audioFaults += 1 }
            logger.warning("audio capture fault", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func startMicrophone() {
        guard let audio = backends.audio, let evidence = backends.evidence else { return }
        do {
            try audio.start { [self] result in
                guard let frame = captured(result) else { return }
                microphoneSamples(frame.samples)
                evidence.audio(frame, capturedAtUTC: clock.wallTime().millisecondsSince1970
                    - (clock.now() - frame.capturedAt).milliseconds)
            }
        } catch {
            logger.error("microphone did not start; no evidence recording", metadata: ["error": "\(error)"])
            publish(.device, "microphone unavailable: \(error.kind.rawValue)")
        }
    }

    private func announce(_ milestone: Milestone) {
        switch milestone {
        case .alarmRaised(let number):
            // Re-assert silence at the moment it matters most.
            if silence == .amplifierOff { try? backends.amplifierEnable?.set(active: false) }
            backends.alarmAwareModem?.setAlarmMode(true)
            publish(.trigger, "ALARM #\(number) raised")
            logger.notice("alarm raised", metadata: ["alarm": "\(number)"])
        case .alarmResumed(let number):
            if silence == .amplifierOff { try? backends.amplifierEnable?.set(active: false) }
            backends.alarmAwareModem?.setAlarmMode(true)
            publish(.trigger, "ALARM #\(number) resumed after a restart")
            logger.notice("alarm resumed", metadata: ["alarm": "\(number)"])
        case .delivered(let path):
            publish(.delivered, "alarm delivered (\(path.rawValue))")
            logger.notice("alarm delivered", metadata: ["via": "\(path.rawValue)"])
        case .emergencyFallback(let number):
            publish(.notice, "no registration: dialling emergency number \(number)")
            logger.warning("emergency fallback", metadata: ["number": "\(number)"])
        case .cancelRequested:
            publish(.notice, "wearer made the cancel gesture (reported; the call goes on)")
            logger.notice("cancel gesture reported")
        case .callerRejected(let caller):
            publish(.incoming, "rejected call from \(caller ?? "withheld number")")
            logger.notice("incoming call rejected", metadata: ["caller": "\(caller ?? "withheld")"])
        case .callbackAnswered(let caller):
            publish(.incoming, "answered centre call from \(caller)")
            logger.notice("centre call answered", metadata: ["caller": "\(caller)"])
        case .centreHungUp:
            publish(.call, "centre hung up (normal clearing): no redial")
        case .callAdopted(let number, let connected):
            publish(.call, "adopted the modem's call to \(number) (\(connected ? "connected: the centre is still listening" : "still being set up")): not dialling over it")
            logger.notice("call adopted", metadata: ["number": "\(number)", "connected": "\(connected)"])
        case .existingCallEnded(let number):
            publish(.call, "ending the modem's other call (\(number ?? "withheld number")) on its own")
        case .alarmEnded(let reason):
            backends.alarmAwareModem?.setAlarmMode(false)
            publish(.alarmEnd, "alarm ended (\(reason.rawValue))")
            logger.notice("alarm ended", metadata: ["reason": "\(reason.rawValue)"])
        case .triggerIgnored:
            publish(.notice, "hold during an active alarm ignored")
        case .centreCommand(let command, let outcome):
            let target = command.alarmNumber.map { " for alarm #\($0)" } ?? ""
            let what = "centre command \(command.action.rawValue)\(target)"
            switch outcome {
            case .actedOn:
                publish(.command, "\(what): acted on")
                logger.notice("centre command acted on", metadata: ["command": "\(command.action.rawValue)"])
            default:
                let why = Self.reason(outcome, command)
                publish(.command, "\(what) ignored: \(why)")
                logger.notice("centre command ignored", metadata: ["command": "\(command.action.rawValue)", "reason": "\(why)"])
            }
        }
    }

    static func reason(_ outcome: CentreCommandOutcome, _ command: CentreCommand) -> String {
        switch outcome {
        case .actedOn: "acted on"
        case .notTheActiveAlarm(let active):
            "alarm #\(command.alarmNumber ?? 0) is not the active alarm (\(active.map { "#\($0)" } ?? "none is active"))"
        case .noActiveAlarm: "no alarm is active"
        case .callInProgress: "a call is in progress"
        case .noSuchCentreNumber: "no centre number \(command.argument ?? 1)"
        case .noPositionKnown: "no position or cell known"
        }
    }

    /// A centre command the runtime refused before the core saw it (wrong sender, bad MAC, replayed, malformed,
    /// counter not persisted): one timeline record, as for a command the core handled.
    public func centreCommandRefused(_ reason: String) {
        publish(.command, "centre command refused: \(reason)")
    }

    // MARK: Timeline

    static let historyLength = 256

    /// Registers an observer of timeline records; returns a key for `removeObserver`. With `replay`, the
    /// observer first gets the recent history (under the same lock, so nothing is missed or doubled).
    public func addObserver(replay: Bool = false, _ observer: @escaping @Sendable (TimelineRecord) -> Void) -> Int {
        inner.withLock { inner in
            if replay { for record in inner.history { observer(record) } }
            inner.nextObserver += 1
            inner.observers[inner.nextObserver] = observer
            return inner.nextObserver
        }
    }

    public func removeObserver(_ key: Int) {
        _ = inner.withLock { $0.observers.removeValue(forKey: key) }
    }

    func publish(_ category: TimelineRecord.Category, _ text: String) {
        let record = TimelineRecord(at: clock.now().milliseconds, category: category, text: text)
        // Delivered under the lock so records reach every observer in order; observers must not block
        // (the control server only queues).
        inner.withLock { inner in
            inner.history.append(record)
            if inner.history.count > Self.historyLength { inner.history.removeFirst(inner.history.count - Self.historyLength) }
            for observer in inner.observers.values { observer(record) }
        }
    }

    /// Kind, source, accuracy and age of a report's position, never its coordinates.
    static func summary(of report: Report) -> String {
        var parts: [String] = []
        if let fix = report.position {
            let age = report.positionAge.map { " age \(Self.seconds($0))" } ?? ""
            parts.append("\(fix.source.rawValue) \(accuracyText(fix.horizontalAccuracy))\(age)")
        } else {
            parts.append("no position")
        }
        if report.cell != nil { parts.append("cell") }
        if !report.previousPositions.isEmpty { parts.append("+\(report.previousPositions.count) earlier") }
        return parts.joined(separator: ", ")
    }

    static func seconds(_ d: Duration) -> String {
        let tenths = d.milliseconds / 100
        return "\(tenths / 10).\(tenths % 10) s"
    }
}

extension Effect {
    /// Dial, hang up, answer, reject: what reaches the modem before anything else of a step.
    var isCallControl: Bool {
        switch self {
        case .dial, .hangUp, .answer, .reject: true
        default: false
        }
    }

    /// A report or SMS carries a sequence number the centre dedups on: it leaves only once the state that reserved
    /// the sequence is stored, so a restart never reuses it for something else.
    var waitsForJournal: Bool {
        switch self {
        case .sendReport, .sendSMS: true
        default: false
        }
    }
}
