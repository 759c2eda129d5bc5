import AlarmCore
import Testing

/// A trouble reported before a restart is still restored after it: the journal keeps what was reported.
@Suite struct TroubleRestartTests {
    @Test(arguments: [(Input.storageHealth(false), Input.storageHealth(true), ReportKind.storageTrouble, ReportKind.storageRestored),
                      (.microphoneHealth(false), .microphoneHealth(true), .microphoneTrouble, .microphoneRestored)])
    func aTroubleReportedBeforeARestartIsRestoredAfterIt(broken: Input, fixed: Input, trouble: ReportKind, restored: ReportKind) {
        var before = Harness()
        #expect(before.send(broken).reports.map(\.kind) == [trouble])
        let saved = before.state.durable

        var after = Harness()
        after.send(.resumed(saved))
        #expect(after.send(fixed).reports.map(\.kind) == [restored], "no restore after the restart")
        // Once only, and nothing for a device that never reported trouble.
        #expect(after.send(fixed).reports.isEmpty)
        var fresh = Harness()
        #expect(fresh.send(fixed).reports.isEmpty)
    }

    /// Journals from before these fields existed resume with nothing reported.
    @Test func aJournalWithoutTheFieldsResumesWithNothingReported() {
        var before = Harness()
        before.send(.storageHealth(false))
        var saved = before.state.durable
        saved.storageTroubleReported = nil
        saved.microphoneTroubleReported = nil
        var after = Harness()
        after.send(.resumed(saved))
        #expect(after.send(.storageHealth(true)).reports.isEmpty)
    }
}
