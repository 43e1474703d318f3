import Foundation
@testable import MessageStore
import XCTest

/// A received message the backend could not take in after its receipt ends inbound `Failed`
/// with why, on either backend and in a database written before the status existed.
class IntakeFailureTests: StoreTestCase {
    func testAMessageNotTakenInEndsFailedWithItsReason() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.recordInbound(inbound("lost@blue", at: t0), duplicateWindow: 60)
        let error = DeliveryError(code: "unknown", reason: "no such address; gw-a could not be told: no agreement")
        try store.markIntakeFailed(messageId: "lost@blue", error: error, at: t0 + 1)

        // Another store object (another process or node) reads and lists it alike.
        let other = try openStore()
        defer { other.close() }
        let failed = try XCTUnwrap(try other.findMessage(id: "lost@blue", direction: .inbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.intakeError, error)
        XCTAssertNil(failed.outbound)
        XCTAssertEqual(try other.listMessages(status: .failed, since: nil, direction: .inbound, limit: 10).map(\.metadata.messageId), ["lost@blue"])
        let events = try other.events(for: failed.rowId)
        XCTAssertEqual(events.map(\.status), [.received, .failed])
        XCTAssertEqual(events.last?.code, "unknown")
        XCTAssertEqual(events.last?.detail, "not taken in by the backend: \(error.reason)")
        XCTAssertTrue(try other.messageCounts().contains { $0.direction == .inbound && $0.status == .failed && $0.count == 1 })

        // Final: neither handed over afterwards nor failed twice.
        assertThrows(.illegalTransition(messageId: "lost@blue", from: .failed, to: .delivered)) {
            try store.markHandedOver(messageId: "lost@blue", at: t0 + 2)
        }
        assertThrows(.illegalTransition(messageId: "lost@blue", from: .failed, to: .failed)) {
            try store.markIntakeFailed(messageId: "lost@blue", error: error, at: t0 + 2)
        }
        // Only a message still waiting for the backend can fail its intake.
        _ = try store.recordInbound(inbound("done@blue", at: t0), duplicateWindow: 60)
        try store.markHandedOver(messageId: "done@blue", at: t0 + 1)
        assertThrows(.illegalTransition(messageId: "done@blue", from: .delivered, to: .failed)) {
            try store.markIntakeFailed(messageId: "done@blue", error: error, at: t0 + 2)
        }
        XCTAssertNil(try store.findMessage(id: "done@blue", direction: .inbound)?.intakeError)
    }

    /// The migration widens the status CHECK of a database holding messages of every status;
    /// they stay as they were, and an inbound message may fail afterwards.
    func testADatabaseWrittenBeforeTheStatusUpgradesAndKeepsItsMessages() throws {
        let added = try XCTUnwrap((Self.backend == .sqlite ? Schema.migrations : PostgresSchema.migrations)
            .first { $0.sql == (Self.backend == .sqlite ? IntakeFailureSchema.sqlite : IntakeFailureSchema.postgres) }?.version)
        try createDatabase(before: added)
        let ms = t0.storeMilliseconds
        for (id, status) in [("old-in", "Received"), ("old-done", "Retrieved")] {
            try rawSQL("""
                INSERT INTO messages (message_id, direction, status, from_party, to_party, service, action, created_at, updated_at)
                VALUES ('\(id)', 'in', '\(status)', 'urn:ap:blue', 'urn:ap:red', 'urn:svc:invoice', 'Deliver', \(ms), \(ms))
                """)
        }
        let store = try openStore()
        defer { store.close() }
        XCTAssertEqual(try store.findMessage(id: "old-done", direction: .inbound)?.status, .retrieved)
        try store.markIntakeFailed(messageId: "old-in", error: DeliveryError(code: "c", reason: "r"), at: t0 + 1)
        XCTAssertEqual(try store.findMessage(id: "old-in", direction: .inbound)?.status, .failed)
        // The widened CHECK still holds every other rule.
        XCTAssertThrowsError(try rawSQL("""
            INSERT INTO messages (message_id, direction, status, from_party, to_party, service, action, created_at, updated_at)
            VALUES ('bad', 'in', 'Sending', 'a', 'b', 's', 'a', \(ms), \(ms))
            """))
        let reopened = try openStore()
        defer { reopened.close() }
        _ = try reopened.recordInbound(inbound("new@blue", at: t0 + 2), duplicateWindow: 60)
        try reopened.markIntakeFailed(messageId: "new@blue", error: DeliveryError(code: "c", reason: "r"), at: t0 + 3)
        if Self.backend == .sqlite {
            let c = try SQLiteConnection(path: dataDirectory + "/messages.sqlite")
            defer { c.close() }
            XCTAssertEqual(try c.pragma("integrity_check"), "ok")
        }
    }
}
