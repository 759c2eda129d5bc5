import AlarmCore
import FoundationEssentials
import HAL
import PosixIO

/// One journal entry: the durable state and where on which timeline it was saved.
struct JournalEntry: Codable {
    var version = 1
    /// The monotonic instant and wall time of the save, and the kernel's boot id: after a daemon restart within the
    /// same boot the instants are still valid; after a reboot they are moved by the wall-clock gap.
    var savedAt: Instant
    var savedWall: WallTime
    var boot: String
    var state: DurableState
}

extension DeviceRuntime {
    static func bootID() -> String {
        let bytes = (try? StorageDirectory.readFile("/proc/sys/kernel/random/boot_id")) ?? nil
        return bytes.map { String(decoding: $0, as: UTF8.self).filter { !$0.isWhitespace } } ?? ""
    }

    /// Brings back the journalled state (before any backend starts): an active alarm resumes at once.
    func restoreJournal() {
        guard let journal = backends.journal else { return }
        defer { inner.withLock { $0.journalRead = true } }
        let entry: [UInt8]?
        do {
            let (latest, problems) = try journal.latest()
            for problem in problems { logger.warning("\(problem)") }
            entry = latest
        } catch {
            logger.error("journal unreadable; starting without it", metadata: ["error": "\(error)"])
            return
        }
        guard let entry else { return }
        let saved: JournalEntry
        do {
            saved = try JSONDecoder().decode(JournalEntry.self, from: Data(entry))
        } catch {
            logger.error("journal entry not understood; starting without it", metadata: ["error": "\(error)"])
            return
        }
        let now = clock.now()
        let sameBoot = !saved.boot.isEmpty && saved.boot == bootID && now >= saved.savedAt
        let elapsed: Duration
        if sameBoot {
            elapsed = now - saved.savedAt
        } else {
            // A reboot: the monotonic clock started again; the wall clock says how long we were away, if it can be trusted.
            let gap = clock.wallTime().millisecondsSince1970 - saved.savedWall.millisecondsSince1970
            elapsed = (0...7 * 86_400_000).contains(gap) ? .milliseconds(gap) : .zero
        }
        let offset = (now - saved.savedAt) - elapsed
        let state = saved.state.rebased(by: offset)
        inner.withLock { $0.journalled = state; $0.journalRequested = state }
        post(.resumed(state))
    }

    /// Called after every step, once its call control has gone to the modem. On the daemon's loop (`.dedicated`) the
    /// entry is written on the persistence queue, so no fsync (10–500 ms on an SD card) ever holds up the next event:
    /// a trigger arriving while earlier entries are still being written dials at once. `release` — the step's reports
    /// and SMS, whose sequence must never be reused after a restart — runs on the loop once an entry holding this
    /// state (or a later one) is stored. On the caller's thread (tests on a manual clock) the write is inline.
    func journal(_ after: AlarmState, release: (@Sendable () -> Void)?) {
        guard backends.journal != nil else {
            release?()
            return
        }
        let durable = after.durable
        let (startWriter, releaseNow) = inner.withLock { inner -> (Bool, Bool) in
            guard inner.journalRead else { return (false, true) }
            if inner.journalRequested != durable {
                inner.journalRequested = durable
                inner.journalGeneration += 1
                inner.journalPending = (durable, inner.journalGeneration)
            }
            var releaseNow = inner.journalStored >= inner.journalGeneration
            if let release, !releaseNow {
                inner.journalWaiting.append((inner.journalGeneration, release))
            }
            if release == nil { releaseNow = false }
            let start = inner.journalPending != nil && !inner.journalWriting
            if start { inner.journalWriting = true }
            return (start, releaseNow)
        }
        if releaseNow { release?() }
        guard startWriter else { return }
        switch eventLoop {
        case .callerThread: writePendingJournal()
        case .dedicated: persistQueue.async { [self] in writePendingJournal() }
        }
    }

    /// Writes the newest requested state until none is pending (intermediate states are skipped: each entry is the
    /// whole durable state), then hands the released reports back to the loop.
    func writePendingJournal() {
        while let (durable, generation) = inner.withLock({ inner -> (DurableState, Int)? in
            guard let pending = inner.journalPending else {
                inner.journalWriting = false
                return nil
            }
            inner.journalPending = nil
            return pending
        }) {
            writeEntry(durable)
            // Stored — or failed, and the alarm goes on from memory: either way the reports may go now.
            let ready = inner.withLock { inner -> [@Sendable () -> Void] in
                inner.journalStored = generation
                let ready = inner.journalWaiting.filter { $0.generation <= generation }.map(\.release)
                inner.journalWaiting.removeAll { $0.generation <= generation }
                return ready
            }
            guard !ready.isEmpty else { continue }
            switch eventLoop {
            case .callerThread: for work in ready { work() }
            case .dedicated: perform { for work in ready { work() } }
            }
        }
    }

    private func writeEntry(_ durable: DurableState) {
        guard let journal = backends.journal else { return }
        let failing = inner.withLock { $0.journalFailing }
        let entry = JournalEntry(savedAt: clock.now(), savedWall: clock.wallTime(), boot: bootID, state: durable)
        guard let bytes = try? JSONEncoder().encode(entry) else { return }
        // Nothing left to deliver: the journal shrinks to this one entry.
        let settled: Bool = {
            if case .alarm = durable.mode { return false }
            return durable.outbox.isEmpty
        }()
        do {
            if settled || journal.size > Self.journalCompactionBytes {
                try journal.reset(to: Array(bytes))
            } else {
                try journal.append(Array(bytes))
            }
            let firstInProcess = inner.withLock { inner -> Bool in
                inner.journalled = durable
                inner.journalFailing = false
                defer { inner.journalWroteOnce = true }
                return !inner.journalWroteOnce
            }
            if failing {
                logger.notice("journal writable again")
                post(.storageHealth(true))
            } else if firstInProcess {
                // A trouble reported before a restart is restored by the first write that works (the core ignores
                // this when nothing was reported).
                post(.storageHealth(true))
            }
        } catch {
            inner.withLock { $0.journalFailing = true }
            if !failing {
                logger.error("journal write failed; the alarm goes on from memory", metadata: ["error": "\(error)"])
                publish(.device, "journal write failed (\(error.kind.rawValue)): state kept in memory only")
                post(.storageHealth(false))
            }
        }
    }

    static let journalCompactionBytes = 64 * 1024
}
