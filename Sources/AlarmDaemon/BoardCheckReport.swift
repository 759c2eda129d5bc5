import AlarmRuntime

/// `alarmd --board FILE --check`: the board file is valid (or the daemon already stopped with the key that is
/// not), then one line per role, key file and directory as this machine and this user see them.
enum BoardCheckReport {
    /// Exit status: 0 when every check passed (warnings allowed), 1 when one failed.
    static func run(_ board: Board, file: String) -> Int32 {
        print("\(file): board \"\(board.name)\" (\(board.kind.rawValue)) is valid; checking it against this machine:")
        var items = BoardCheck().run(board)
        if let provisioning = board.provisioning {
            // The signer and digest the operator's records should show for this device.
            items.insert(BoardCheckItem("provisioning", provisioning.candidateRefused == nil ? .ok : .fail, provisioning.summary), at: 0)
        }
        for item in items { print(item) }
        let failed = items.filter { $0.verdict == .fail }.count
        let warned = items.filter { $0.verdict == .warn }.count
        guard failed == 0 else {
            print("\(failed) check\(failed == 1 ? "" : "s") failed: alarmd would not run as this board says")
            return 1
        }
        print(warned == 0 ? "all checks passed" : "passed with \(warned) warning\(warned == 1 ? "" : "s")")
        return 0
    }
}
