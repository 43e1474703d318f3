import Foundation
@testable import MessageStore
import XCTest

/// What only the SQLite directory has: its table's own checks and the upgrade of a database
/// written before the directory existed.
final class SQLiteAddressDirectorySchemaTests: StoreTestCase {
    func record(_ address: String) -> AddressRecord {
        AddressRecord(address: address, ownerId: "40003032949", ownerKind: "company")
    }

    func testSchemaRefusesWhatTheAPIWouldNot() throws {
        try SQLiteAddressDirectory(dataDirectory: dataDirectory, now: t0).close()
        let raw = try rawConnection()
        defer { raw.close() }
        for sql in [
            "INSERT INTO directory_addresses (address, owner_id, owner_kind, access_point, updated_at) VALUES ('a', 'o', 'robot', 'local', 0)",
            "INSERT INTO directory_addresses (address, owner_id, owner_kind, access_point, updated_at) VALUES ('a', 'o', 'company', 'remote', 0)",
            "INSERT INTO directory_addresses (address, owner_id, owner_kind, access_point, suspended_until, updated_at) VALUES ('a', 'o', 'company', 'local', 5, 0)",
            "INSERT INTO directory_addresses (address, owner_id, owner_kind, access_point, mailbox_bytes, updated_at) VALUES ('a', 'o', 'company', 'local', 0, 0)",
        ] {
            XCTAssertThrowsError(try raw.run(sql), sql)
        }
        let plan = try raw.query("EXPLAIN QUERY PLAN SELECT * FROM directory_addresses WHERE address = 'x'") { $0.string("detail") }
        XCTAssertTrue(plan.joined().contains("USING PRIMARY KEY"), "\(plan)")
    }

    func testAVersionOneDatabaseIsUpgradedWithItsMessagesKept() throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let raw = try rawConnection()
        try raw.execute(script: "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);")
        try raw.execute(script: Schema.migrations[0].sql)
        try raw.run("INSERT INTO schema_migrations VALUES (1, 'v1', 0)")
        raw.close()
        let store = try openSQLiteStore()
        XCTAssertEqual(try store.schemaVersion(), Schema.latestVersion)
        guard case .stored = try store.recordInbound(inbound("m1", at: t0), duplicateWindow: 60) else { return XCTFail("not stored") }
        store.close()
        let directory = try SQLiteAddressDirectory(dataDirectory: dataDirectory, now: t0)
        defer { directory.close() }
        XCTAssertEqual(try directory.importRecords([record("_DEFAULT@40003032949")], replace: false, at: t0), AddressImportResult(added: 1))
        let reopened = try openSQLiteStore()
        defer { reopened.close() }
        XCTAssertNotNil(try reopened.findMessage(id: "m1", direction: .inbound))
    }
}
