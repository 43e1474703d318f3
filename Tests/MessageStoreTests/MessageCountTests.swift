import Foundation
import MessageStore
import XCTest

/// `messageCounts()`: per direction and status, only pairs that have messages, following every
/// status change; and the job handed to a worker carries the submission time.
class MessageCountTests: StoreTestCase {
    func counts(_ store: any MessageStore) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for c in try store.messageCounts() { out["\(c.direction.rawValue)/\(c.status.rawValue)"] = c.count }
        return out
    }

    func testCountsFollowEveryStatusChange() throws {
        let store = try openStore()
        defer { store.close() }
        XCTAssertEqual(try store.messageCounts(), [], "an empty store has no pairs")
        for id in ["a", "b", "c"] { _ = try store.enqueueOutbound(outbound(id, at: t0)) }
        _ = try store.recordInbound(inbound("in-1", at: t0), duplicateWindow: 60)
        _ = try store.recordInbound(inbound("in-2", at: t0), duplicateWindow: 60)
        XCTAssertEqual(try counts(store), ["out/Submitted": 3, "in/Received": 2])

        let jobs = try store.claimDue(now: t0 + 1, limit: 2, owner: "w", lease: 30)
        XCTAssertEqual(jobs.map(\.createdAt), [t0, t0], "the job carries when the message was submitted")
        try store.markDelivered(messageId: jobs[0].metadata.messageId, owner: "w", receipt: Data([1]), at: t0 + 2)
        try store.markFailed(messageId: jobs[1].metadata.messageId, owner: "w", error: .missingReceipt(attempts: 1), at: t0 + 2)
        try store.markHandedOver(messageId: "in-1", at: t0 + 3)
        XCTAssertEqual(try counts(store), ["out/Submitted": 1, "out/Delivered": 1, "out/Failed": 1, "in/Received": 1, "in/Delivered": 1])
    }

    func testClosedStoreRefusesToCount() throws {
        let store = try openStore()
        store.close()
        assertThrows(.closed) { _ = try store.messageCounts() }
    }
}
