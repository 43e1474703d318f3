import Foundation
import MessageStore
import XCTest

class TransitionTests: StoreTestCase {
    func testStateMachineTable() {
        let outbound: [(MessageStatus, MessageStatus)] = [(.submitted, .sending), (.submitted, .failed), (.sending, .sending),
                                                          (.sending, .submitted), (.sending, .delivered), (.sending, .failed)]
        let inbound: [(MessageStatus, MessageStatus)] = [(.received, .delivered), (.received, .failed), (.delivered, .retrieved)]
        for direction in Direction.allCases {
            let allowed = direction == .outbound ? outbound : inbound
            for from in MessageStatus.allCases {
                for to in MessageStatus.allCases {
                    let expected = allowed.contains { $0 == (from, to) }
                    XCTAssertEqual(from.allows(to, direction: direction), expected, "\(direction) \(from) → \(to)")
                }
            }
        }
        XCTAssertFalse(MessageStatus.delivered.allows(.sending, direction: .outbound))
        XCTAssertTrue(MessageStatus.delivered.isFinal(direction: .outbound))
        XCTAssertTrue(MessageStatus.failed.isFinal(direction: .outbound))
        XCTAssertFalse(MessageStatus.delivered.isFinal(direction: .inbound))
        XCTAssertTrue(MessageStatus.retrieved.isFinal(direction: .inbound))
        XCTAssertTrue(MessageStatus.failed.isFinal(direction: .inbound))
        XCTAssertFalse(MessageStatus.failed.allowsOperatorRetry(direction: .inbound))
        XCTAssertEqual(MessageStatus.statuses(for: .inbound), [.received, .delivered, .retrieved, .failed])
    }

    func testTheStoreRefusesIllegalChanges() throws {
        let store = try openStore()
        defer { store.close() }
        let receipt = Data("rcpt".utf8)
        _ = try store.enqueueOutbound(outbound("d", at: t0))
        assertThrows(.illegalTransition(messageId: "d", from: .submitted, to: .delivered)) {
            try store.markDelivered(messageId: "d", owner: "w", receipt: receipt, at: t0)
        }
        assertThrows(.illegalTransition(messageId: "d", from: .submitted, to: .submitted)) {
            try store.markRetry(messageId: "d", owner: "w", error: DeliveryError(code: "c", reason: "r"), nextAttemptAt: t0, at: t0)
        }
        _ = try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)
        try store.markDelivered(messageId: "d", owner: "w", receipt: receipt, at: t0 + 1)

        // Delivered is final: nothing moves it, and no claim picks it up even long after.
        assertThrows(.illegalTransition(messageId: "d", from: .delivered, to: .delivered)) {
            try store.markDelivered(messageId: "d", owner: "w", receipt: receipt, at: t0 + 2)
        }
        assertThrows(.illegalTransition(messageId: "d", from: .delivered, to: .submitted)) {
            try store.markRetry(messageId: "d", owner: "w", error: DeliveryError(code: "c", reason: "r"), nextAttemptAt: t0, at: t0 + 2)
        }
        assertThrows(.illegalTransition(messageId: "d", from: .delivered, to: .failed)) {
            try store.markFailed(messageId: "d", owner: "w", error: DeliveryError(code: "c", reason: "r"), at: t0 + 2)
        }
        XCTAssertEqual(try store.claimDue(now: t0 + 1_000_000, limit: 10, owner: "w", lease: 30), [])
        XCTAssertEqual(try store.reclaimExpiredLeases(now: t0 + 1_000_000), 0)

        // Inbound operations do not reach outbound rows, and the reverse.
        assertThrows(.notFound(messageId: "d", direction: .inbound)) { try store.markHandedOver(messageId: "d", at: t0) }
        _ = try store.recordInbound(inbound("i", at: t0), duplicateWindow: 60)
        assertThrows(.notFound(messageId: "i", direction: .outbound)) {
            try store.markFailed(messageId: "i", owner: nil, error: DeliveryError(code: "c", reason: "r"), at: t0)
        }

        let history = try XCTUnwrap(try store.findMessage(id: "d", direction: .outbound))
        XCTAssertEqual(try store.events(for: history.rowId).map(\.status), [.submitted, .sending, .delivered],
                       "refused changes leave no trace")
    }
}
