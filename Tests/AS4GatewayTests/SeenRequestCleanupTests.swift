@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// The ids of signed PullRequests are removed on their own cadence and a run ends on time, not
/// on a count: pulled many times a second, the table must not outgrow what the clean-up removes.
final class SeenRequestCleanupTests: XCTestCase {
    var directory = ""
    var store: SQLiteMessageStore!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-seen-\(UUID().uuidString)").path
        store = try SQLiteMessageStore(dataDirectory: directory)
    }

    override func tearDown() {
        store?.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The old clean-up stopped after 100 statements; with 2 rows a statement that left 50 of
    /// these 250 rows behind each run. One run now removes them all.
    func testOneRunRemovesEveryExpiredRowBeyondTheOldCap() throws {
        let t0 = Date()
        for i in 0..<250 { XCTAssertTrue(try store.recordSeenRequest(messageId: "pr-\(i)@x", expiresAt: t0 + 10)) }
        XCTAssertTrue(try store.recordSeenRequest(messageId: "pr-live@x", expiresAt: t0 + 1000))
        var cleanup = SeenRequestCleanup(store: store, keepFor: 600)
        cleanup.batch = 2
        cleanup.budget = 600  // the test machine's speed must not end the run
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 11), .ran(removed: 250, finished: true))
        XCTAssertEqual(try store.removeExpiredSeenRequests(now: t0 + 11, limit: 1000), 0, "nothing expired is left")
        XCTAssertFalse(try store.recordSeenRequest(messageId: "pr-live@x", expiresAt: t0 + 1000), "an id still in its window stays")
    }

    /// Due once a minute (or per keeping period, when shorter) from its own last run, whatever
    /// the retention purge interval; a run the budget cut short is due again at once.
    func testTheCadenceIsItsOwnAndABacklogContinuesAtOnce() throws {
        let t0 = Date()
        var cleanup = SeenRequestCleanup(store: store, keepFor: 600)
        XCTAssertEqual(cleanup.interval, 60)
        XCTAssertEqual(SeenRequestCleanup(store: store, keepFor: 20).interval, 20)
        XCTAssertEqual(try cleanup.runIfDue(now: t0), .ran(removed: 0, finished: true))
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 59), .notDue)
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 60), .ran(removed: 0, finished: true))

        for i in 0..<6 { _ = try store.recordSeenRequest(messageId: "pr-\(i)@x", expiresAt: t0 + 100) }
        // A clock that moves a second per reading: the budget of one second ends a run after a statement.
        var reading = t0
        cleanup.clock = { reading += 1; return reading }
        cleanup.budget = 1
        cleanup.batch = 2
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 120), .ran(removed: 2, finished: false))
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 120.1), .ran(removed: 2, finished: false), "a backlog goes on at the next round")
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 120.2), .ran(removed: 2, finished: false))
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 120.3), .ran(removed: 0, finished: true))
        XCTAssertEqual(try cleanup.runIfDue(now: t0 + 121), .notDue)
    }
}
