import Foundation
import MessageStore
import XCTest

class PullTests: StoreTestCase {
    let mpc = "urn:mpc:red-inbox"
    /// The party ids of the receiver `metadata` names.
    let red = ["urn:ap:red"]

    func testPullLeasesTheOldestMessageOnTheMPC() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("p2", at: t0 + 2, pullMPC: mpc))
        _ = try store.enqueueOutbound(outbound("p1", at: t0 + 1, pullMPC: mpc))
        _ = try store.enqueueOutbound(outbound("other", at: t0, pullMPC: "urn:mpc:other"))
        _ = try store.enqueueOutbound(outbound("push", at: t0))
        // Another party allowed on the same MPC gets nothing addressed to red; nor does an empty list.
        XCTAssertNil(try store.nextForPull(mpc: mpc, receivers: ["urn:ap:green", "red"], now: t0 + 10, owner: "pull-green", lease: 60))
        XCTAssertNil(try store.nextForPull(mpc: mpc, receivers: [], now: t0 + 10, owner: "pull-none", lease: 60))

        let first = try XCTUnwrap(try store.nextForPull(mpc: mpc, receivers: red, now: t0 + 10, owner: "pull-1", lease: 60))
        XCTAssertEqual(first.metadata.messageId, "p1")
        XCTAssertEqual(first.pullMPC, mpc)
        XCTAssertNil(first.endpoint)
        XCTAssertEqual(first.attempt, 1)
        XCTAssertEqual(try store.nextForPull(mpc: mpc, receivers: red, now: t0 + 10, owner: "pull-2", lease: 60)?.metadata.messageId, "p2")
        XCTAssertNil(try store.nextForPull(mpc: mpc, receivers: red, now: t0 + 10, owner: "pull-3", lease: 60), "all leased")

        // Push claims never take pull messages.
        XCTAssertEqual(try store.claimDue(now: t0 + 10, limit: 10, owner: "w", lease: 60).map(\.metadata.messageId), ["push"])

        try store.markDelivered(messageId: "p1", owner: "pull-1", receipt: Data("r1".utf8), at: t0 + 20)
        XCTAssertEqual(try store.findMessage(id: "p1", direction: .outbound)?.status, .delivered)
        let events = try store.events(for: first.rowId)
        XCTAssertEqual(events.map(\.status), [.submitted, .sending, .delivered])
        XCTAssertTrue(events[1].detail?.contains("pulled by pull-1") ?? false)
    }

    func testAPulledMessageNeverReceiptedComesBackAfterTheLease() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("lost", at: t0, maxAttempts: 2, pullMPC: mpc))
        _ = try XCTUnwrap(try store.nextForPull(mpc: mpc, receivers: red, now: t0, owner: "pull-1", lease: 60))
        XCTAssertNil(try store.nextForPull(mpc: mpc, receivers: red, now: t0 + 59, owner: "pull-2", lease: 60))

        let again = try XCTUnwrap(try store.nextForPull(mpc: mpc, receivers: red, now: t0 + 60, owner: "pull-2", lease: 60))
        XCTAssertEqual(again.metadata.messageId, "lost")
        XCTAssertEqual(again.attempt, 2)
        XCTAssertTrue(again.isLastAttempt)
        assertThrows(.leaseNotHeld(messageId: "lost", owner: "pull-1", holder: "pull-2")) {
            try store.markFailed(messageId: "lost", owner: "pull-1", error: DeliveryError(code: "c", reason: "r"), at: t0 + 61)
        }

        // The last lease expires too: the message fails with MissingReceipt instead of coming back.
        XCTAssertNil(try store.nextForPull(mpc: mpc, receivers: red, now: t0 + 120, owner: "pull-3", lease: 60))
        let message = try XCTUnwrap(try store.findMessage(id: "lost", direction: .outbound))
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.lastError?.code, "EBMS:0301")
    }

    func testReclaimPutsAnExpiredPullBackInTheQueue() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("back", at: t0, pullMPC: mpc))
        _ = try store.nextForPull(mpc: mpc, receivers: red, now: t0, owner: "pull-1", lease: 30)
        XCTAssertEqual(try store.reclaimExpiredLeases(now: t0 + 30), 1)
        XCTAssertEqual(try store.findMessage(id: "back", direction: .outbound)?.status, .submitted)
        XCTAssertEqual(try store.nextForPull(mpc: mpc, receivers: red, now: t0 + 31, owner: "pull-2", lease: 30)?.attempt, 2)
    }
}
