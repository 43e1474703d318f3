import Foundation
import MessageStore
import XCTest

/// `retryFailed`: an operator puts a Failed outbound message back in the queue.
class OperatorRetryTests: StoreTestCase {
    func testAFailedMessageIsQueuedAgainWithAFreshBudget() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("f", at: t0, maxAttempts: 1))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)
        let error = DeliveryError(code: "http-503", reason: "partner down")
        XCTAssertEqual(try store.markRetry(messageId: "f", owner: "w", error: error, nextAttemptAt: t0 + 5, at: t0 + 1), .failed)

        try store.retryFailed(messageId: "f", at: t0 + 100)
        let message = try XCTUnwrap(store.findMessage(id: "f", direction: .outbound))
        XCTAssertEqual(message.status, .submitted)
        XCTAssertEqual(message.outbound?.attempts, 0)
        XCTAssertEqual(message.outbound?.maxAttempts, 1)
        XCTAssertEqual(message.outbound?.nextAttemptAt, t0 + 100)
        XCTAssertNil(message.outbound?.leaseOwner)
        let last = try XCTUnwrap(store.events(for: message.rowId).last)
        XCTAssertEqual(last.status, .submitted)
        XCTAssertEqual(last.code, "retry-requested")
        XCTAssertEqual(last.at, t0 + 100)

        // The daemon's claim picks it up again, as attempt 1 of 1.
        XCTAssertEqual(try store.claimDue(now: t0 + 99, limit: 1, owner: "w", lease: 30), [])
        let jobs = try store.claimDue(now: t0 + 100, limit: 1, owner: "w", lease: 30)
        XCTAssertEqual(jobs.map(\.attempt), [1])
        try store.markDelivered(messageId: "f", owner: "w", receipt: Data("r".utf8), at: t0 + 101)
    }

    func testOnlyFailedOutboundMessagesCanBeRetried() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("q", at: t0))
        assertThrows(.illegalTransition(messageId: "q", from: .submitted, to: .submitted)) {
            try store.retryFailed(messageId: "q", at: t0)
        }
        _ = try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)
        assertThrows(.illegalTransition(messageId: "q", from: .sending, to: .submitted)) {
            try store.retryFailed(messageId: "q", at: t0)
        }
        try store.markDelivered(messageId: "q", owner: "w", receipt: Data("r".utf8), at: t0 + 1)
        assertThrows(.illegalTransition(messageId: "q", from: .delivered, to: .submitted)) {
            try store.retryFailed(messageId: "q", at: t0 + 2)
        }
        _ = try store.recordInbound(inbound("i", at: t0), duplicateWindow: 60)
        assertThrows(.notFound(messageId: "i", direction: .outbound)) { try store.retryFailed(messageId: "i", at: t0) }
        // The daemon's own transitions still treat Failed as final.
        XCTAssertFalse(MessageStatus.failed.allows(.submitted, direction: .outbound))
        XCTAssertTrue(MessageStatus.failed.allowsOperatorRetry(direction: .outbound))
        XCTAssertFalse(MessageStatus.failed.allowsOperatorRetry(direction: .inbound))
        XCTAssertFalse(MessageStatus.delivered.allowsOperatorRetry(direction: .outbound))
    }
}

/// `events(after:limit:)` and `latestEventId`: the store's history followed by `as4gw tail`.
class EventFeedTests: StoreTestCase {
    func testEventsAfterAnIdComeInOrderWithTheirMessageIds() throws {
        let store = try openStore()
        defer { store.close() }
        XCTAssertEqual(try store.latestEventId(), 0)
        _ = try store.enqueueOutbound(outbound("o", at: t0))
        _ = try store.recordInbound(inbound("i", at: t0 + 1), duplicateWindow: 60)
        let mark = try store.latestEventId()
        _ = try store.claimDue(now: t0 + 2, limit: 1, owner: "w", lease: 30)
        try store.markHandedOver(messageId: "i", at: t0 + 3)

        let all = try store.events(after: 0, limit: 100)
        XCTAssertEqual(all.map(\.messageId), ["o", "i", "o", "i"])
        XCTAssertEqual(all.map(\.event.id), all.map(\.event.id).sorted())
        let newer = try store.events(after: mark, limit: 100)
        XCTAssertEqual(newer.map { "\($0.messageId) \($0.event.status.rawValue)" }, ["o Sending", "i Delivered"])
        XCTAssertEqual(try store.events(after: mark, limit: 1).count, 1)
        XCTAssertEqual(try store.latestEventId(), all.last?.event.id)
        assertThrows(.invalidArgument("limit must be positive")) { try store.events(after: 0, limit: 0) }
    }
}
