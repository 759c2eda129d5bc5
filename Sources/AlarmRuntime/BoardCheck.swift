import ALSA
import DC09
import Glibc
import HAL
import PosixIO
import SecureStore

/// One line of `alarmd --check`: a role, key file or directory, and what the machine says about it.
public struct BoardCheckItem: Sendable, Equatable, CustomStringConvertible {
    public enum Verdict: String, Sendable {
        case ok
        /// Cannot be proven now but need not be wrong (a device that appears only while the modem runs).
        case warn
        case fail
    }

    public var subject: String
    public var verdict: Verdict
    public var detail: String

    public init(_ subject: String, _ verdict: Verdict, _ detail: String) {
        self.subject = subject
        self.verdict = verdict
        self.detail = detail
    }

    public var description: String {
        let label = verdict == .ok ? "ok" : verdict.rawValue.uppercased()
        return "  " + subject.padding(to: 12) + " " + label.padding(to: 5) + " " + detail
    }
}

/// Checks a loaded board against the machine it is about to run on, without starting anything: every device
/// file exists and this user may open it as the role needs, gpsd answers, the PCMs open, key files are
/// well-formed and owner-only, and the directories the daemon writes are writable. The checks only look and
/// open: nothing is sent to the centre, no modem command is written, no key is generated.
///
/// Schemes this file does not know are checked generically: a target that is an absolute path (or names an
/// entry of /dev) must exist and be accessible, so new backends are covered without teaching the checker.
public struct BoardCheck: Sendable {
    /// How long gpsd gets to connect and send its banner.
    public var gpsdTimeoutMilliseconds: Int32 = 2000

    public init() {}

    public static func passed(_ items: [BoardCheckItem]) -> Bool { !items.contains { $0.verdict == .fail } }

    public func run(_ board: Board) -> [BoardCheckItem] {
        var items: [BoardCheckItem] = []
        for role in Role.allCases {
            guard let uri = board.roles[role] else { continue }
            items.append(checkRole(role, uri, board: board))
            items += checkFilesInQuery(role, uri)
        }
        if let interface = board.data?.interface { items.append(checkInterface(interface)) }
        items += checkKeys(board)
        items.append(checkStorage(board.storagePath))
        items.append(checkControlSocket(board.controlSocketPath))
        return items
    }

    // MARK: Roles

    func checkRole(_ role: Role, _ uri: PortURI, board: Board) -> BoardCheckItem {
        let name = role.rawValue
        let short = "\(uri.scheme):\(uri.target)"
        switch (uri.scheme, uri.target) {
        case ("sim", _), ("pty", "sim"):
            return BoardCheckItem(name, .ok, "\(short) (simulated)")
        case ("serial", _):
            return checkDevice(name, short, path: uri.target, access: .readWrite, requireCharacterDevice: true)
        case ("gpsd", _):
            guard let (host, port) = uri.hostAndPort else { return BoardCheckItem(name, .fail, "\(short): expected gpsd://HOST:PORT") }
            return checkGPSD(name, host: host, port: port)
        case ("alsa", _):
            return checkPCM(name, uri, playback: role == .voiceOut, board: board)
        case ("modem", _):
            let modem = board.roles[.modem]
            let atModem = modem?.scheme == "serial" || modem?.scheme == "pty"
            return atModem ? BoardCheckItem(name, .ok, "\(short) (through the modem role)")
                           : BoardCheckItem(name, .fail, "\(short): needs an AT modem (serial: or pty:sim) in the modem role")
        case ("tcp", _), ("dc09+tcp", _), ("dc09+udp", _):
            guard uri.hostAndPort != nil else { return BoardCheckItem(name, .fail, "\(short): expected \(uri.scheme)://HOST:PORT") }
            // Contacting the centre would register as a connection (or a garbage frame) at a live receiving centre.
            return BoardCheckItem(name, .ok, "\(uri.scheme)://\(uri.target) (not contacted)")
        default:
            return checkGeneric(name, uri, output: Self.outputRoles.contains(role.rawValue))
        }
    }

    /// Query values that name secret files (`serial:…?pin=/etc/stalking-alarm/sim.pin`).
    static let secretQueryKeys: Set<String> = ["pin", "puk", "password", "passwordFile", "key", "keyFile"]

    /// Files a port names in its query: a secret must be owner-only, anything else readable. One line each,
    /// as `role.key`.
    func checkFilesInQuery(_ role: Role, _ uri: PortURI) -> [BoardCheckItem] {
        uri.query.sorted { $0.key < $1.key }.compactMap { key, value in
            // The ALSA configuration is read by the PCM check itself.
            guard value.hasPrefix("/"), !(uri.scheme == "alsa" && key == "config") else { return nil }
            let subject = "\(role.rawValue).\(key)"
            if Self.secretQueryKeys.contains(key) { return secret(subject, value) { $0.isEmpty ? "is empty" : nil } }
            return checkDevice(subject, value, path: value, access: .read, requireCharacterDevice: false)
        }
    }

    /// Roles the daemon drives (by name: roles are added by other backends without this file knowing them).
    static let outputRoles: Set<String> = ["vibrator", "amplifierEnable", "modemPower", "modemReset"]

    /// A scheme this checker has no rule for: if its target leads to a file, that file must be usable.
    func checkGeneric(_ name: String, _ uri: PortURI, output: Bool) -> BoardCheckItem {
        let short = "\(uri.scheme):\(uri.target)"
        guard var path = Self.path(of: uri) else {
            if uri.hostAndPort != nil { return BoardCheckItem(name, .ok, "\(short) (network port, not contacted)") }
            return BoardCheckItem(name, .warn, "\(short): not checked (no device path in the port)")
        }
        // An LED is driven through its brightness file, not its directory.
        if uri.scheme == "led" || uri.scheme == "leds", Self.status(path).map({ $0.st_mode & S_IFMT == S_IFDIR }) ?? false {
            path += "/brightness"
        }
        let information = Self.status(path)
        let needs: Access
        if information.map({ $0.st_mode & S_IFMT == S_IFDIR }) ?? false {
            needs = .directory
        } else if output || information.map({ $0.st_mode & S_IFMT == S_IFCHR && !path.hasPrefix("/dev/input/") }) ?? false {
            // Outputs are written; character devices other than input events (GPIO chips, serial lines) are
            // opened read-write for their ioctls.
            needs = .readWrite
        } else {
            needs = .read
        }
        return checkDevice(name, short, path: path, access: needs, requireCharacterDevice: false)
    }

    /// Where the port's target lives in the file system: an absolute path as written (`gpio:/dev/gpiochip0?line=17`,
    /// `led:/sys/class/leds/NAME`; a trailing line number on a device, `gpio:/dev/gpiochip0/17`, leads to the
    /// device), the class directories of LEDs and power supplies by name, or an entry of /dev named first
    /// (`gpio:gpiochip0/17`).
    static func path(of uri: PortURI) -> String? {
        let target = uri.target
        if target.hasPrefix("/") {
            if status(target) == nil, let slash = target.lastIndex(of: "/"), slash != target.startIndex,
               target[target.index(after: slash)...].allSatisfy(\.isNumber), status(String(target[..<slash])) != nil {
                return String(target[..<slash])
            }
            return target
        }
        guard let first = target.split(separator: "/").first.map(String.init), !first.isEmpty, first != ".", first != ".." else { return nil }
        switch uri.scheme {
        case "led", "leds": return "/sys/class/leds/\(first)"
        case "power-supply", "power_supply": return "/sys/class/power_supply/\(first)"
        default: return status("/dev/" + first) != nil ? "/dev/" + first : nil
        }
    }

    enum Access {
        case read, readWrite, directory

        var mode: Int32 {
            switch self {
            case .read: R_OK
            case .readWrite: R_OK | W_OK
            case .directory: R_OK | X_OK
            }
        }
    }

    func checkDevice(_ name: String, _ short: String, path: String, access needs: Access, requireCharacterDevice: Bool) -> BoardCheckItem {
        var information = stat()
        guard stat(path, &information) == 0 else {
            let error = Errno.current
            let what = error == .noSuchFile ? (path.hasPrefix("/dev/") ? "no such device" : "no such file") : "\(error)"
            return BoardCheckItem(name, .fail, "\(short): \(what) (\(path))")
        }
        if requireCharacterDevice, information.st_mode & S_IFMT != S_IFCHR {
            return BoardCheckItem(name, .fail, "\(short): \(path) is not a character device")
        }
        let ownership = Self.ownership(information)
        guard access(path, needs.mode) == 0 else {
            let error = Errno.current
            let hint = error == .permissionDenied ? "; add \(Self.userName(geteuid())) to the file's group or fix its udev rule" : ""
            return BoardCheckItem(name, .fail, "\(short): \(error) (\(ownership))\(hint)")
        }
        let mode = switch needs {
        case .read: "r"
        case .readWrite: "rw"
        case .directory: "dir"
        }
        return BoardCheckItem(name, .ok, "\(short) (\(mode), \(ownership))")
    }

    // MARK: gpsd

    /// Connects and waits for gpsd's greeting (`{"class":"VERSION",…}`), which it sends unasked on every
    /// connection: a port that accepts but is not gpsd fails too.
    func checkGPSD(_ name: String, host: String, port: UInt16) -> BoardCheckItem {
        let short = "gpsd://\(host):\(port)"
        let end = SystemTime.monotonicNanoseconds() + Int64(gpsdTimeoutMilliseconds) * 1_000_000
        func remainingMilliseconds() -> Int32 { Int32(clamping: max(0, (end - SystemTime.monotonicNanoseconds() + 999_999) / 1_000_000)) }
        let fd: FileDescriptor
        do {
            fd = try TCP.connect(host: host, port: port, timeoutMilliseconds: gpsdTimeoutMilliseconds)
        } catch {
            return BoardCheckItem(name, .fail, "\(short): gpsd not reachable (\(error))")
        }
        defer { try? fd.close() }
        var received: [UInt8] = []
        while !received.contains(UInt8(ascii: "\n")), received.count < 4096 {
            do throws(Errno) {
                guard try fd.poll(events: Int16(POLLIN), timeoutMilliseconds: remainingMilliseconds()) != 0 else {
                    return BoardCheckItem(name, .fail, "\(short): connected, but no gpsd banner within \(gpsdTimeoutMilliseconds) ms")
                }
                let chunk = try fd.read(upTo: 1024)
                if chunk.isEmpty { break }
                received += chunk
            } catch where error == .wouldBlock {
                continue
            } catch {
                return BoardCheckItem(name, .fail, "\(short): \(error)")
            }
        }
        let banner = String(decoding: received.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        guard banner.contains("\"class\":\"VERSION\"") else {
            return BoardCheckItem(name, .fail, "\(short): answered, but not with gpsd's VERSION banner")
        }
        let release = Self.jsonString("release", in: banner).map { "gpsd \($0)" } ?? "gpsd"
        return BoardCheckItem(name, .ok, "\(short) (\(release))")
    }

    /// The value of `"key":"…"` in one line of gpsd JSON; enough for a banner, not a JSON parser.
    static func jsonString(_ key: String, in line: String) -> String? {
        let marker = Array("\"\(key)\":\"".utf8), bytes = Array(line.utf8)
        guard bytes.count >= marker.count,
              let start = (0...(bytes.count - marker.count)).first(where: { bytes[$0..<($0 + marker.count)].elementsEqual(marker) })
        else { return nil }
        let value = bytes[(start + marker.count)...].prefix { $0 != UInt8(ascii: "\"") }
        return value.isEmpty || value.count > 40 ? nil : String(decoding: value, as: UTF8.self)
    }

    // MARK: ALSA

    func checkPCM(_ name: String, _ uri: PortURI, playback: Bool, board: Board) -> BoardCheckItem {
        let short = "alsa:\(uri.target)"
        var configText: String?
        if let file = uri.query["config"] {
            switch Result(catching: { () throws(Errno) -> [UInt8]? in try StorageDirectory.readFile(file) }) {
            case .success(let bytes?): configText = String(decoding: bytes, as: UTF8.self)
            case .success(nil): return BoardCheckItem(name, .fail, "\(short): config \(file): no such file")
            case .failure(let error): return BoardCheckItem(name, .fail, "\(short): config \(file): \(error)")
            }
        }
        let rate = Int(uri.query["rate"] ?? "8000") ?? 8000
        let channels = Int(uri.query["channels"] ?? "1") ?? 1
        let fallback = playback ? rate / 50 : board.defaultCapturePeriodFrames(rate: rate)
        let period = Int(uri.query["period"] ?? String(fallback)) ?? fallback
        do {
            try PCMProbe.open(pcm: uri.target, configText: configText, sampleRate: rate, channels: playback ? 1 : channels,
                              periodFrames: period, playback: playback)
        } catch {
            if error.kind == .notReady {
                return BoardCheckItem(name, .warn, "\(short): busy (held by a running alarmd or another program?): \(error.message)")
            }
            if playback {
                // The modem's USB-audio function exists only while the modem runs.
                return BoardCheckItem(name, .warn, "\(short): cannot open now (\(error.message)); it exists only while the modem is on")
            }
            return BoardCheckItem(name, .fail, "\(short): \(error.message)")
        }
        return BoardCheckItem(name, .ok, "\(short) (\(playback ? "playback" : "capture") \(rate) Hz opens)")
    }

    // MARK: Network interface

    func checkInterface(_ name: String) -> BoardCheckItem {
        let path = "/sys/class/net/\(name)"
        if Self.status(path) != nil { return BoardCheckItem("interface", .ok, "\(name) present") }
        return BoardCheckItem("interface", .warn, "\(name) not present now (it appears with the modem's USB network function)")
    }

    // MARK: Keys

    func checkKeys(_ board: Board) -> [BoardCheckItem] {
        var items: [BoardCheckItem] = []
        let generated = board.kind != .device
        func storageFile(_ name: String) -> String {
            (board.storagePath.hasSuffix("/") ? board.storagePath : board.storagePath + "/") + name
        }

        if generated, Self.status(board.storageKeyPath) == nil {
            items.append(BoardCheckItem("storageKey", .ok, "\(board.storageKeyPath) (generated on first start)"))
        } else {
            do {
                _ = try StorageKey.load(path: board.storageKeyPath, createIfMissing: false)
                items.append(BoardCheckItem("storageKey", .ok, "\(board.storageKeyPath) (32 bytes, owner-only)"))
            } catch {
                items.append(BoardCheckItem("storageKey", .fail, error.description))
            }
        }

        if let reporting = board.reporting, let file = reporting.keyFile {
            items.append(secret("dc09Key", file) { bytes in
                do {
                    _ = try DC09Key(text: String(decoding: bytes, as: UTF8.self),
                                    encoding: reporting.keyEncoding == "binary-hex" ? .binaryHex : .asciiHex)
                    return nil
                } catch {
                    return "\(error) for keyEncoding \"\(reporting.keyEncoding)\""
                }
            })
        }
        if let file = board.reporting?.smsKeyFile {
            items.append(secret("smsKey", file) { bytes in Self.hexKey(bytes, digits: 64) })
        } else if generated, board.alarm.smsFallbackNumber != nil, board.reporting?.smsFormat != "plain" {
            items.append(generatedSecret("smsKey", storageFile("sms.key")) { bytes in Self.hexKey(bytes, digits: 64) })
        }
        if let file = board.data?.passwordFile {
            items.append(secret("apnPassword", file) { bytes in bytes.isEmpty ? "is empty" : nil })
        }
        if let evidence = board.evidence {
            if let file = evidence.signingKeyFile {
                items.append(secret("evidenceKey", file) { bytes in Self.hexKey(bytes, digits: 64) })
            } else {
                items.append(generatedSecret("evidenceKey", storageFile("evidence-signing.key")) { bytes in Self.hexKey(bytes, digits: 64) })
            }
            // The centre's public key: anyone may read it, but it must be there and well-formed.
            let file = evidence.centreKeyFile
            switch Result(catching: { () throws(Errno) -> [UInt8]? in try StorageDirectory.readFile(file, limit: 4096) }) {
            case .success(let bytes?):
                if let problem = Self.hexKey(bytes, digits: 64) {
                    items.append(BoardCheckItem("centreKey", .fail, "\(file): \(problem)"))
                } else {
                    items.append(BoardCheckItem("centreKey", .ok, "\(file) (public)"))
                }
            case .success(nil): items.append(BoardCheckItem("centreKey", .fail, "\(file): no such file"))
            case .failure(let error): items.append(BoardCheckItem("centreKey", .fail, "\(file): \(error)"))
            }
        }
        return items
    }

    /// A secret file: owned by this user, readable by nobody else, and well-formed (`problem` says what is
    /// wrong with its content, never the content).
    func secret(_ name: String, _ path: String, _ problem: ([UInt8]) -> String?) -> BoardCheckItem {
        let bytes: [UInt8]
        do {
            bytes = try SecretFile.read(path, limit: 4096)
        } catch {
            return BoardCheckItem(name, .fail, "\(path): \(error.description)")
        }
        if let problem = problem(bytes) { return BoardCheckItem(name, .fail, "\(path): \(problem)") }
        return BoardCheckItem(name, .ok, "\(path) (owner-only)")
    }

    /// A secret that simulator and HIL boards generate under their storage when it is missing.
    func generatedSecret(_ name: String, _ path: String, _ problem: ([UInt8]) -> String?) -> BoardCheckItem {
        if Self.status(path) == nil { return BoardCheckItem(name, .ok, "\(path) (generated on first start)") }
        return secret(name, path, problem)
    }

    static func hexKey(_ bytes: [UInt8], digits: Int) -> String? {
        let text = bytes.filter { !(UInt8(ascii: "\t")...UInt8(ascii: "\r")).contains($0) && $0 != UInt8(ascii: " ") }
        guard text.count == digits, text.allSatisfy({ UInt8(ascii: "0")...UInt8(ascii: "9") ~= $0 || UInt8(ascii: "a")...UInt8(ascii: "f") ~= $0
                                                       || UInt8(ascii: "A")...UInt8(ascii: "F") ~= $0 }) else {
            return "expected \(digits) hex digits"
        }
        return nil
    }

    // MARK: Directories

    /// The storage directory is made (0700) on first start: it must be writable, or its nearest existing
    /// parent must be, and nobody else may look into it.
    func checkStorage(_ path: String) -> BoardCheckItem {
        if let information = Self.status(path) {
            guard information.st_mode & S_IFMT == S_IFDIR else { return BoardCheckItem("storage", .fail, "\(path): not a directory") }
            guard access(path, W_OK | X_OK) == 0 else {
                return BoardCheckItem("storage", .fail, "\(path): not writable by \(Self.userName(geteuid())) (\(Self.ownership(information)))")
            }
            if information.st_mode & 0o077 != 0 {
                return BoardCheckItem("storage", .warn, "\(path): writable, but open to others (mode \(Self.octal(information.st_mode & 0o777)); expected 0700)")
            }
            return BoardCheckItem("storage", .ok, "\(path) (writable, owner-only)")
        }
        guard let parent = Self.nearestExistingAncestor(of: path) else {
            return BoardCheckItem("storage", .fail, "\(path): no existing parent directory")
        }
        guard access(parent, W_OK | X_OK) == 0 else {
            return BoardCheckItem("storage", .fail, "\(path): missing, and \(parent) is not writable by \(Self.userName(geteuid()))")
        }
        return BoardCheckItem("storage", .ok, "\(path) (created 0700 on first start)")
    }

    /// The control socket is created in an existing directory (alarmd does not make it).
    func checkControlSocket(_ path: String) -> BoardCheckItem {
        let directory = Self.directory(of: path)
        guard let information = Self.status(directory) else {
            return BoardCheckItem("control", .warn, "\(directory) does not exist now; alarmd does not make it (on the device the unit's RuntimeDirectory= does)")
        }
        guard information.st_mode & S_IFMT == S_IFDIR else { return BoardCheckItem("control", .fail, "\(directory): not a directory") }
        guard access(directory, W_OK | X_OK) == 0 else {
            return BoardCheckItem("control", .fail, "\(directory): not writable by \(Self.userName(geteuid())) (\(Self.ownership(information)))")
        }
        return BoardCheckItem("control", .ok, "\(path) (directory writable)")
    }

    // MARK: Helpers

    /// stat(2), following links (/dev/input/by-path and /dev/serial/by-id are links); nil with errno set.
    static func status(_ path: String) -> stat? {
        var information = stat()
        return stat(path, &information) == 0 ? information : nil
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func nearestExistingAncestor(of path: String) -> String? {
        var current = path.hasPrefix("/") ? path : "./" + path
        while current != "/" && current != "." {
            current = directory(of: current)
            if let information = status(current) { return information.st_mode & S_IFMT == S_IFDIR ? current : nil }
        }
        return status(current) != nil ? current : nil
    }

    static func ownership(_ information: stat) -> String {
        "mode \(octal(information.st_mode & 0o777)), owner \(userName(information.st_uid)), group \(groupName(information.st_gid))"
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The reentrant lookups: getpwuid(3) and getgrgid(3) share a static buffer between threads.
    static func userName(_ uid: uid_t) -> String {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &found) == 0, found != nil, let name = entry.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    static func groupName(_ gid: gid_t) -> String {
        var entry = group()
        var found: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrgid_r(gid, &entry, &buffer, buffer.count, &found) == 0, found != nil, let name = entry.gr_name else { return "gid \(gid)" }
        return String(cString: name)
    }
}

private extension String {
    func padding(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
