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
        inner.withLock { $0.journalled = state }
        post(.resumed(state))
    }

    /// Called after every step, before its effects run: what must survive a restart reaches storage first.
    func journal(_ after: AlarmState) {
        guard let journal = backends.journal else { return }
        let durable = after.durable
        let (changed, failing) = inner.withLock { inner -> (Bool, Bool) in
            guard inner.journalRead, inner.journalled != durable else { return (false, inner.journalFailing) }
            return (true, inner.journalFailing)
        }
        guard changed else { return }
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
            inner.withLock { $0.journalled = durable; $0.journalFailing = false }
            if failing {
                logger.notice("journal writable again")
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
