import Foundation
@testable import MessageStore
import XCTest

final class SchemaTests: StoreTestCase {
    func testMigrationsAreAppliedOnceAndReopeningIsIdempotent() throws {
        let store = try openSQLiteStore()
        XCTAssertEqual(try store.schemaVersion(), Schema.latestVersion)
        store.close()

        let later = t0.addingTimeInterval(3600)
        let reopened = try SQLiteMessageStore(dataDirectory: dataDirectory, now: later)
        XCTAssertEqual(try reopened.schemaVersion(), Schema.latestVersion)
        reopened.close()

        let raw = try rawConnection()
        let rows = try raw.query("SELECT version, applied_at FROM schema_migrations ORDER BY version") {
            ($0.int("version"), $0.date("applied_at"))
        }
        XCTAssertEqual(rows.map(\.0), Schema.migrations.map(\.version))
        XCTAssertTrue(rows.allSatisfy { $0.1 == t0 }, "a reopen must not re-apply (or re-record) a migration")
        XCTAssertEqual(try Schema.migrate(raw, at: later), [], "nothing left to apply")
    }

    /// Consecutive but for numbers another branch holds (IntakeFailureSchema): a database that
    /// applied a later one would never apply a migration numbered into a gap afterwards, so a gap
    /// is only for migrations that are merged before any release.
    func testMigrationVersionsAreConsecutive() {
        let reserved: Set = [18, 19, 20, 21]
        let versions = Schema.migrations.map(\.version)
        XCTAssertEqual(versions, Array(1...Schema.latestVersion).filter { !reserved.contains($0) })
    }

    func testConnectionSettings() throws {
        let store = try openSQLiteStore()
        defer { store.close() }
        try store.withConnection { c in
            XCTAssertEqual(try c.pragma("journal_mode"), "wal")
            // NORMAL: commits are made durable by the store's group commit (WALGroupSync), which
            // `DurabilityTests` checks; the connection itself no longer fsyncs at COMMIT.
            XCTAssertEqual(try c.pragma("synchronous"), "1", "NORMAL")
            XCTAssertEqual(try c.pragma("foreign_keys"), "1")
            XCTAssertEqual(try c.pragma("busy_timeout"), "10000")
        }
    }

    func testADatabaseFromANewerBuildIsRefused() throws {
        try openSQLiteStore().close()
        let raw = try rawConnection()
        try raw.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)",
                    [Schema.latestVersion + 1])
        raw.close()
        assertThrows(.schemaTooNew(found: Schema.latestVersion + 1, supported: Schema.latestVersion)) {
            try openSQLiteStore()
        }
    }

    func testEventsCannotBeUpdatedOrDeleted() throws {
        let store = try openSQLiteStore()
        guard case let .stored(rowId) = try store.recordInbound(inbound("m1", at: t0), duplicateWindow: 60) else {
            return XCTFail("not stored")
        }
        store.close()

        let raw = try rawConnection()
        defer { raw.close() }
        for sql in ["UPDATE events SET detail = 'rewritten'", "UPDATE events SET status = 'Retrieved' WHERE id = 1",
                    "DELETE FROM events", "DELETE FROM events WHERE message_row = \(rowId)"] {
            XCTAssertThrowsError(try raw.run(sql), sql) { error in
                guard case let .sqlite(_, message, _) = error as? StoreError else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("events are append-only"), message)
            }
        }
        // Appending stays possible, and nothing was changed.
        try raw.appendEvent(rowId: rowId, at: t0, direction: .inbound, status: .received, detail: "appended")
        let events = try raw.events(rowId: rowId)
        XCTAssertEqual(events.map(\.detail), ["from urn:ap:blue, 0 part(s)", "appended"])
        // And a message with history cannot be deleted from under its events.
        XCTAssertThrowsError(try raw.run("DELETE FROM messages WHERE row_id = ?", [rowId]))
    }

    /// The reply lookup (before every Two-Way reply is recorded) is one index probe, however
    /// many messages the store holds.
    func testTheReplyLookupUsesItsIndex() throws {
        try openSQLiteStore().close()
        let raw = try rawConnection()
        defer { raw.close() }
        let plan = try raw.query("EXPLAIN QUERY PLAN SELECT * FROM messages WHERE answers_request = 'x'") { $0.string("detail") }
        XCTAssertEqual(plan, ["SEARCH messages USING INDEX \(TwoWayReplySchema.indexName) (answers_request=?)"])
    }

    func testConstraintErrorsCarrySQLitesMessage() throws {
        try openSQLiteStore().close()
        let raw = try rawConnection()
        defer { raw.close() }
        XCTAssertThrowsError(try raw.run("INSERT INTO parts (message_row, position, content_id, mime_type, path, size, sha256) VALUES (999, 0, 'c', 't', 'p', 1, ?)",
                                         [String(repeating: "0", count: 64)])) { error in
            XCTAssertTrue("\(error)".contains("FOREIGN KEY constraint failed"), "\(error)")
            XCTAssertTrue("\(error)".contains("INSERT INTO parts"), "the failing statement is reported")
        }
    }
}
