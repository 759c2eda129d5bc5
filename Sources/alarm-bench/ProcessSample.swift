import Glibc
import PosixIO

/// One reading of a running process from /proc: every thread's CPU time (schedstat, nanoseconds) and context
/// switches, and the process's resident memory. Two readings make a window.
struct ProcessSample {
    struct Thread {
        var tid: Int32
        var name: String
        /// Time spent on a CPU, ns (first field of /proc/PID/task/TID/schedstat; the kernel's own sum, not ticks).
        var cpuNanoseconds: Int64
        /// Voluntary (the thread blocked) plus involuntary (preempted) switches: each wake-up ends in one.
        var switches: Int64
    }

    var at: Int64
    var threads: [Int32: Thread]
    /// VmRSS and VmHWM of the process, KiB.
    var residentKiB: Int
    var peakResidentKiB: Int
    /// RssAnon: the process's own (private, dirty) memory; the rest of VmRSS is file-backed pages of the binary and
    /// the shared libraries, clean and reclaimable.
    var anonymousKiB: Int

    static func read(pid: Int32) -> ProcessSample? {
        let at = SystemTime.monotonicNanoseconds()
        guard let status = fields("/proc/\(pid)/status") else { return nil }
        var threads: [Int32: Thread] = [:]
        for tid in taskIDs(pid: pid) {
            let base = "/proc/\(pid)/task/\(tid)"
            guard let stat = text(base + "/schedstat"), let cpu = Int64(stat.split(separator: " ").first ?? ""),
                  let task = fields(base + "/status") else { continue }
            let switches = (Int64(task["voluntary_ctxt_switches"] ?? "") ?? 0) + (Int64(task["nonvoluntary_ctxt_switches"] ?? "") ?? 0)
            threads[tid] = Thread(tid: tid, name: text(base + "/comm")?.trimmed ?? "?", cpuNanoseconds: cpu, switches: switches)
        }
        return ProcessSample(at: at, threads: threads, residentKiB: kib(status["VmRSS"]), peakResidentKiB: kib(status["VmHWM"]),
                             anonymousKiB: kib(status["RssAnon"]))
    }

    /// This reading with the threads of `earlier` that have ended since kept at their last values: a ledger of
    /// every thread seen. Read often enough (`track`), a thread's CPU and switches are not lost when it exits
    /// (libdispatch ends idle worker threads) — at most what it did after the last reading.
    func keepingEnded(from earlier: ProcessSample) -> ProcessSample {
        var merged = self
        for (tid, thread) in earlier.threads where merged.threads[tid] == nil { merged.threads[tid] = thread }
        return merged
    }

    /// Reads `pid` every `step` for `seconds`, sleeping in between, and returns the ledger (`keepingEnded`) at the
    /// end, or nil when the process is gone. Reading /proc does not wake the process read.
    static func track(pid: Int32, from start: ProcessSample, seconds: Double, step: Double = 0.1) -> ProcessSample? {
        var ledger = start
        let end = SystemTime.monotonicNanoseconds() + Int64(seconds * 1e9)
        while true {
            let left = Double(end - SystemTime.monotonicNanoseconds()) / 1e9
            if left > 0 { sleepSeconds(min(step, left)) }
            guard let now = read(pid: pid) else { return nil }
            ledger = now.keepingEnded(from: ledger)
            if left <= step { return ledger }
        }
    }

    private static func sleepSeconds(_ seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var left = timespec()
        while nanosleep(&request, &left) == -1 && errno == EINTR { request = left }
    }

    /// Clears the accessed bit of every page the process maps ("1" to /proc/PID/clear_refs): from then on, the
    /// Referenced total of /proc/PID/smaps_rollup counts only pages the process actually touches.
    static func clearReferenced(pid: Int32) -> Bool {
        guard let file = try? FileDescriptor.open("/proc/\(pid)/clear_refs", O_WRONLY) else { return false }
        defer { try? file.close() }
        return (try? file.write(Array("1".utf8))) == 1
    }

    /// The pages (KiB) touched since `clearReferenced`: the working set. Unlike VmRSS it leaves out the pages the
    /// kernel maps around a fault (fault-around maps up to 64 KiB of cached file pages per fault) but never used.
    static func referencedKiB(pid: Int32) -> Int? {
        guard let rollup = fields("/proc/\(pid)/smaps_rollup"), rollup["Referenced"] != nil else { return nil }
        return kib(rollup["Referenced"])
    }

    /// CPU time and switches between two readings, per thread (a thread that started in between counts from zero;
    /// one that ended in between is lost, which the caller sees as a thread missing from `later`).
    static func delta(_ earlier: ProcessSample, _ later: ProcessSample) -> (seconds: Double, cpu: Int64, switches: Int64, threads: [Thread]) {
        var threads: [Thread] = []
        for (tid, now) in later.threads {
            let before = earlier.threads[tid]
            threads.append(Thread(tid: tid, name: now.name, cpuNanoseconds: now.cpuNanoseconds - (before?.cpuNanoseconds ?? 0),
                                  switches: now.switches - (before?.switches ?? 0)))
        }
        threads.sort { $0.switches > $1.switches }
        return (Double(later.at - earlier.at) / 1e9, threads.reduce(0) { $0 + $1.cpuNanoseconds },
                threads.reduce(0) { $0 + $1.switches }, threads)
    }

    private static func taskIDs(pid: Int32) -> [Int32] {
        guard let directory = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(directory) }
        var ids: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if let id = Int32(name) { ids.append(id) }
        }
        return ids
    }

    private static func text(_ path: String) -> String? {
        (try? StorageDirectory.readFile(path, limit: 64 * 1024))?.map { String(decoding: $0, as: UTF8.self) } ?? nil
    }

    /// "Key:\tvalue" lines of a /proc status file.
    private static func fields(_ path: String) -> [String: String]? {
        guard let text = text(path) else { return nil }
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmed
        }
        return result
    }

    private static func kib(_ value: String?) -> Int { Int(value?.split(separator: " ").first ?? "") ?? 0 }
}

extension String {
    var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
