import Foundation
@testable import MessageStore
import XCTest

/// Migration versions run 1, 2, 3, … in order, but for numbers `reserved` for a migration of a
/// branch merged beside this one. The runner applies only what is above a database's highest
/// version, so a reserved number must be filled before any database is migrated past it: the
/// branches reach a release together, and the reservation is dropped then.
func assertConsecutive(_ versions: [Int], reserved: Set<Int>, file: StaticString = #filePath, line: UInt = #line) {
    let expected = Array(1...(versions.last ?? 0)).filter { !reserved.contains($0) || versions.contains($0) }
    XCTAssertEqual(versions, expected, file: file, line: line)
}

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

    func testMigrationVersionsAreConsecutive() {
        // 17: the Two-Way reply index (branch tw), merged beside the seen requests' 18.
        assertConsecutive(Schema.migrations.map(\.version), reserved: [17])
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
