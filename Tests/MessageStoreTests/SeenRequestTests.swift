import Dispatch
import Foundation
@testable import MessageStore
import Synchronization
import XCTest

/// Signed requests already taken (PullRequests): recorded once, refused after that by any store
/// object on the same database (another node, a restarted one), removed in batches once expired.
class SeenRequestTests: StoreTestCase {
    func testARequestIsRecordedOnceAndRefusedAfterThat() throws {
        let store = try openStore()
        defer { store.close() }
        XCTAssertTrue(try store.recordSeenRequest(messageId: "pr-1@b", expiresAt: t0 + 600))
        XCTAssertFalse(try store.recordSeenRequest(messageId: "pr-1@b", expiresAt: t0 + 900), "the same id again: a replay")
        XCTAssertTrue(try store.recordSeenRequest(messageId: "pr-2@b", expiresAt: t0 + 600))

        // Another store object on the same database, as another node or the node after a restart.
        let other = try openStore()
        defer { other.close() }
        XCTAssertFalse(try other.recordSeenRequest(messageId: "pr-1@b", expiresAt: t0 + 600))
        XCTAssertFalse(try other.recordSeenRequest(messageId: "pr-2@b", expiresAt: t0 + 600))
        XCTAssertTrue(try other.recordSeenRequest(messageId: "pr-3@b", expiresAt: t0 + 600))
    }

    /// Nodes taking the same captured request at the same moment: one records it, the others
    /// find it recorded.
    func testOneOfManyConcurrentRecordersWins() throws {
        let stores = try (0..<4).map { _ in try openStore() }
        defer { stores.forEach { $0.close() } }
        let outcomes = Mutex<[String]>([])
        let expiry = t0 + 600
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let outcome: String
            do {
                outcome = try stores[i % stores.count].recordSeenRequest(messageId: "raced@b", expiresAt: expiry) ? "recorded" : "replay"
            } catch {
                outcome = "\(error)"
            }
            outcomes.withLock { $0.append(outcome) }
        }
        XCTAssertEqual(outcomes.withLock { $0.sorted() }, ["recorded"] + Array(repeating: "replay", count: 7))
    }

    func testExpiredRecordsAreRemovedInBatchesOldestFirst() throws {
        let store = try openStore()
        defer { store.close() }
        for i in 1...5 { XCTAssertTrue(try store.recordSeenRequest(messageId: "pr-\(i)@b", expiresAt: t0 + Double(i))) }
        XCTAssertEqual(try store.removeExpiredSeenRequests(now: t0 + 3, limit: 2), 2)
        XCTAssertEqual(try store.removeExpiredSeenRequests(now: t0 + 3, limit: 2), 1, "pr-3 expires at t0 + 3: gone too")
        XCTAssertEqual(try store.removeExpiredSeenRequests(now: t0 + 3, limit: 2), 0)
        // What is left is still refused; what was removed may be recorded again.
        XCTAssertFalse(try store.recordSeenRequest(messageId: "pr-4@b", expiresAt: t0 + 600))
        XCTAssertFalse(try store.recordSeenRequest(messageId: "pr-5@b", expiresAt: t0 + 600))
        XCTAssertTrue(try store.recordSeenRequest(messageId: "pr-1@b", expiresAt: t0 + 600))
        assertThrows(.invalidArgument("limit must be positive")) { try store.removeExpiredSeenRequests(now: t0, limit: 0) }
    }
}
