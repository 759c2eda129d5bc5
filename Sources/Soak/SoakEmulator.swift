import Dispatch
import Glibc
import PosixIO
import Synchronization

/// The `modem-emulator` executable, out of process, for the whole kill soak: the daemon is killed and restarted
/// against it, and it keeps its calls meanwhile, as a real modem does. Control commands go to its stdin; a reader
/// thread drains its stdout without pause (the AT transcript goes to a file in the work directory, so the emulator
/// never blocks on a full pipe) and hands every other line — the answers to control commands — to `request`.
final class SoakEmulator: Sendable {
    let process: ChildProcess
    private let control: FileDescriptor
    /// What the reader thread hands over: answer lines, and whether the emulator's output has ended.
    private final class Inbox: Sendable {
        let answers = Mutex<[String]>([])
        let ended = Mutex(false)
        let arrived = DispatchSemaphore(value: 0)
    }
    private let inbox = Inbox()

    /// `callWaitingFixed`: the network refuses `AT+CCWA=1,0`, so a second caller still reaches the device.
    init(executable: String, link: String, answerAfter: Double, callWaitingFixed: Bool, transcriptPath: String) throws {
        let input = try PosixPipe.open()
        let output = try PosixPipe.open()
        var arguments = ["--link", link, "--keep-running", "--answer-after", String(answerAfter)]
        if callWaitingFixed { arguments.append("--call-waiting-fixed") }
        do {
            process = try ChildProcess.spawn(executable, arguments, stdin: input.reader, stdout: output.writer, stderr: output.writer)
        } catch {
            input.closeBoth()
            output.closeBoth()
            throw error
        }
        // The child has its copies; ours would keep its stdin open and our reads from ever seeing EOF.
        _ = try? input.reader.close()
        _ = try? output.writer.close()
        control = input.writer
        let transcript = try FileDescriptor.open(transcriptPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        let reader = output.reader
        let inbox = self.inbox
        DispatchQueue(label: "soak.emulator.stdout").async {
            var pending: [UInt8] = []
            while true {
                let chunk: [UInt8]
                do throws(Errno) {
                    chunk = try reader.read(upTo: 16_384)
                } catch where error == .interrupted || error == .wouldBlock {
                    continue
                } catch {
                    chunk = []
                }
                if chunk.isEmpty { break }
                _ = try? transcript.writeAll(chunk)
                pending += chunk
                while let end = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[..<end], as: UTF8.self)
                    pending.removeSubrange(...end)
                    // Transcript lines: "→ sent", "← answered", "-- note"; everything else answers a control command.
                    if line.hasPrefix("→") || line.hasPrefix("←") || line.hasPrefix("--") { continue }
                    inbox.answers.withLock { $0.append(line) }
                    inbox.arrived.signal()
                }
            }
            inbox.ended.withLock { $0 = true }
            inbox.arrived.signal()
            _ = try? reader.close()
            _ = try? transcript.close()
        }
    }

    /// Sends `command`, then `status`, and returns the answer lines up to and including the status line (the last
    /// element), or nil if none came within the deadline or the emulator exited.
    func request(_ command: String?, timeoutMilliseconds: Int = 10_000) -> [String]? {
        inbox.answers.withLock { $0.removeAll() }  // a late answer to an earlier request that ran out
        let text = (command.map { $0 + "\n" } ?? "") + "status\n"
        guard (try? control.writeAll(Array(text.utf8), timeoutMilliseconds: 5000)) != nil else { return nil }
        let deadline = DispatchTime.now() + .milliseconds(timeoutMilliseconds)
        var lines: [String] = []
        while true {
            let taken = inbox.answers.withLock { answers -> [String] in
                defer { answers.removeAll() }
                return answers
            }
            for line in taken {
                lines.append(line)
                if line.hasPrefix("status ") { return lines }
            }
            if inbox.ended.withLock({ $0 }) { return nil }
            if inbox.arrived.wait(timeout: deadline) == .timedOut { return nil }
        }
    }

    func stop() {
        _ = try? control.close()
        process.stop(graceMilliseconds: 3000)
    }
}

/// The emulator's `status` line, `calls` and `ended` answers, parsed.
struct EmulatorStatus: Sendable {
    var fields: [String: String] = [:]
    func int(_ key: String) -> Int { Int(fields[key] ?? "") ?? -1 }

    init?(line: String) {
        guard line.hasPrefix("status ") else { return nil }
        for pair in line.dropFirst(7).split(separator: " ") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            fields[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
    }
}

/// `call 1 out stat=0 +3292000101`
struct EmulatorCall: Sendable, Hashable {
    var index: Int
    var outgoing: Bool
    var state: Int
    var number: String

    init?(line: String) {
        let words = line.split(separator: " ")
        guard words.count >= 4, words[0] == "call", let index = Int(words[1]), words[3].hasPrefix("stat="),
              let state = Int(words[3].dropFirst(5)) else { return nil }
        self.index = index
        outgoing = words[2] == "out"
        self.state = state
        number = words.count > 4 ? String(words[4]) : ""
    }
}

/// `ended 1 +3292000101 stat=0 by=network: normal`
struct EmulatorEndedCall: Sendable, Hashable {
    var index: Int
    var number: String
    var state: Int
    var endedBy: String
    var byNetwork: Bool { endedBy.hasPrefix("network") }

    init?(line: String) {
        let words = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
        guard words.count == 5, words[0] == "ended", let index = Int(words[1]), words[3].hasPrefix("stat="),
              let state = Int(words[3].dropFirst(5)), words[4].hasPrefix("by=") else { return nil }
        self.index = index
        number = String(words[2])
        self.state = state
        endedBy = String(words[4].dropFirst(3))
    }
}
