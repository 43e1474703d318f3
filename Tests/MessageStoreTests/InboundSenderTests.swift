import Foundation
import MessageStore
import XCTest

/// Duplicates are detected per sending party: the same MessageId from another party is another
/// message, kept in a row of its own, and each row is addressed by itself.
class InboundSenderTests: StoreTestCase {
    func from(_ party: String, _ id: String, at date: Date) -> InboundMessage {
        var message = inbound(id, at: date)
        message.metadata.fromParty = party
        return message
    }

    func testTheSameIdFromAnotherPartyIsNoDuplicate() throws {
        let store = try openStore()
        defer { store.close() }
        guard case let .stored(first) = try store.recordInbound(from("urn:ap:green", "x@shared", at: t0), duplicateWindow: 3600),
              case let .stored(second) = try store.recordInbound(from("urn:ap:blue", "x@shared", at: t0 + 1), duplicateWindow: 3600) else {
            return XCTFail("each party's message is stored")
        }
        XCTAssertNotEqual(first, second)
        // Each party's copy inside the window is its own message's duplicate.
        guard case let .duplicate(again) = try store.recordInbound(from("urn:ap:green", "x@shared", at: t0 + 2), duplicateWindow: 3600) else {
            return XCTFail("green's copy is a duplicate")
        }
        XCTAssertEqual(again.rowId, first)
        guard case let .duplicate(blue) = try store.recordInbound(from("urn:ap:blue", "x@shared", at: t0 + 3), duplicateWindow: 3600) else {
            return XCTFail("blue's copy is a duplicate")
        }
        XCTAssertEqual(blue.rowId, second)

        let rows = try store.findInbound(id: "x@shared")
        XCTAssertEqual(rows.map(\.rowId), [second, first], "newest first")
        XCTAssertEqual(rows.map(\.metadata.fromParty), ["urn:ap:blue", "urn:ap:green"])
        XCTAssertEqual(try store.findMessage(id: "x@shared", direction: .inbound)?.rowId, second, "by id: the newest row")
        XCTAssertEqual(try store.findInbound(id: "nothing@here"), [])
        XCTAssertEqual(try store.events(for: first).map(\.code), [nil, "duplicate"], "the copy is noted on its own message")
    }

    func testInboundTransitionsByRowTouchThatRowOnly() throws {
        let store = try openStore()
        defer { store.close() }
        guard case let .stored(older) = try store.recordInbound(from("urn:ap:green", "y@shared", at: t0), duplicateWindow: 60),
              case let .stored(newer) = try store.recordInbound(from("urn:ap:blue", "y@shared", at: t0 + 1), duplicateWindow: 60) else {
            return XCTFail("not stored")
        }
        try store.markHandedOver(rowId: older, at: t0 + 2)
        let error = DeliveryError(code: "documentHeaderInvalid", reason: "no header")
        try store.markIntakeFailed(rowId: newer, error: error, at: t0 + 3)
        var rows = try store.findInbound(id: "y@shared")
        XCTAssertEqual(rows.map(\.status), [.failed, .delivered])
        XCTAssertEqual(rows.first?.intakeError, error)

        try store.retryIntake(rowId: newer, requestedBy: "cli:alice", at: t0 + 4)
        rows = try store.findInbound(id: "y@shared")
        XCTAssertEqual(rows.map(\.status), [.received, .delivered])
        XCTAssertEqual(try store.events(for: newer).last?.code, MessageEvent.intakeRetryRequestedCode)

        // The state machine holds by row as by id; a row that is no inbound message is not found.
        assertThrows(.illegalTransition(messageId: "y@shared", from: .delivered, to: .failed)) {
            try store.markIntakeFailed(rowId: older, error: error, at: t0 + 5)
        }
        assertThrows(.illegalTransition(messageId: "y@shared", from: .delivered, to: .received)) {
            try store.retryIntake(rowId: older, requestedBy: "cli:alice", at: t0 + 5)
        }
        let outRow = try store.enqueueOutbound(outbound("out@red", at: t0))
        assertThrows(.notFound(messageId: "row \(outRow)", direction: .inbound)) { try store.markHandedOver(rowId: outRow, at: t0 + 5) }
        assertThrows(.notFound(messageId: "row 999999", direction: .inbound)) { try store.markHandedOver(rowId: 999_999, at: t0 + 5) }
        assertThrows(.invalidArgument("an intake retry needs who requested it")) {
            try store.retryIntake(rowId: newer, requestedBy: " ", at: t0 + 5)
        }
    }
}
