import Foundation
@testable import MessageStore
import XCTest

/// The directory table: lookups by address, imports that count what they did and apply all or
/// nothing, the schema's own checks, and a database upgraded from version 1.
final class AddressDirectoryStoreTests: StoreTestCase {
    private func record(_ address: String, owner: String = "40003032949", kind: String = "company") -> AddressRecord {
        AddressRecord(address: address, ownerId: owner, ownerKind: kind)
    }

    private var remote: AddressRecord {
        AddressRecord(address: "_PRIVATE@16117519997", ownerId: "16117519997", ownerKind: "naturalPerson", maxMessageBytes: 1000,
                      mailboxBytes: 5000, retentionDays: 30, activeFrom: t0, suspendedFrom: t0 + 10, suspendedUntil: t0 + 20,
                      blockedFrom: t0 + 30.5, remote: true, partyId: "ap-b", partyIdType: "urn:type", endpoint: "https://ap-b.example/as4",
                      certificates: ["sha256:" + String(repeating: "ab", count: 32),
                                     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"])
    }

    func testImportThenLookUp() throws {
        let directory = try SQLiteAddressDirectory(dataDirectory: dataDirectory, now: t0)
        defer { directory.close() }
        let result = try directory.importRecords([record("_DEFAULT@40003032949"), remote], replace: false, at: t0)
        XCTAssertEqual(result, AddressImportResult(added: 2))
        XCTAssertEqual(try directory.record(for: "_PRIVATE@16117519997"), remote, "every field comes back, certificates in order")
        XCTAssertEqual(try directory.record(for: "_DEFAULT@40003032949"), record("_DEFAULT@40003032949"))
        XCTAssertNil(try directory.record(for: "_default@40003032949"), "the store matches canonical spellings only")
        XCTAssertEqual(try directory.count(), 2)
        XCTAssertEqual(try directory.allRecords().map(\.address), ["_DEFAULT@40003032949", "_PRIVATE@16117519997"])
    }

    func testCountsMergeAndReplace() throws {
        let directory = try SQLiteAddressDirectory(dataDirectory: dataDirectory, now: t0)
        defer { directory.close() }
        let a = record("_DEFAULT@40003032949"), b = record("B@40003032949"), c = record("C@40003032949")
        XCTAssertEqual(try directory.importRecords([a, b, remote], replace: false, at: t0), AddressImportResult(added: 3))
        XCTAssertEqual(try directory.importRecords([a, b, remote], replace: false, at: t0 + 1), AddressImportResult(unchanged: 3))
        var changed = b
        changed.retentionDays = 7
        XCTAssertEqual(try directory.importRecords([changed, c], replace: false, at: t0 + 2), AddressImportResult(added: 1, changed: 1))
        XCTAssertEqual(try directory.count(), 4)
        XCTAssertEqual(try directory.importRecords([changed, c], replace: true, at: t0 + 3), AddressImportResult(unchanged: 2, removed: 2))
        XCTAssertEqual(try directory.allRecords(), [changed, c])
        XCTAssertEqual(try directory.importRecords([], replace: true, at: t0 + 4), AddressImportResult(removed: 2))
        XCTAssertEqual(try directory.count(), 0)
    }

    func testABadImportChangesNothing() throws {
        let directory = try SQLiteAddressDirectory(dataDirectory: dataDirectory, now: t0)
        defer { directory.close() }
        _ = try directory.importRecords([record("_DEFAULT@40003032949")], replace: false, at: t0)
        let bad: [(AddressRecord, String)] = [
            (record("X@40003032949", kind: "person"), "unknown owner kind person"),
            (AddressRecord(address: "Y@40003032949", ownerId: "40003032949", ownerKind: "company", maxMessageBytes: 0), "limits are at least 1"),
            (AddressRecord(address: "Z@40003032949", ownerId: "40003032949", ownerKind: "company", remote: true, partyId: "p"), "needs a party id"),
            (record(""), "empty address"),
        ]
        for (r, message) in bad {
            XCTAssertThrowsError(try directory.importRecords([record("NEW@40003032949"), r], replace: true, at: t0)) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
        XCTAssertThrowsError(try directory.importRecords([record("D@40003032949"), record("D@40003032949")], replace: false, at: t0)) {
            XCTAssertEqual($0 as? StoreError, .invalidArgument("address D@40003032949 is given twice"))
        }
        XCTAssertEqual(try directory.allRecords().map(\.address), ["_DEFAULT@40003032949"], "nothing added, nothing removed")
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

    func testClosedDirectoryRefuses() throws {
        let directory = try SQLiteAddressDirectory(dataDirectory: dataDirectory, now: t0)
        directory.close()
        assertThrows(.closed) { try directory.record(for: "x") }
    }
}
