import Foundation
@testable import MessageStore
import XCTest

/// The directory table: lookups by address, imports that count what they did and apply all or
/// nothing. (SQLite's own schema checks and upgrade: `SQLiteAddressDirectorySchemaTests`.)
class AddressDirectoryStoreTests: StoreTestCase {
    func record(_ address: String, owner: String = "40003032949", kind: String = "company") -> AddressRecord {
        AddressRecord(address: address, ownerId: owner, ownerKind: kind)
    }

    var remote: AddressRecord {
        AddressRecord(address: "_PRIVATE@16117519997", ownerId: "16117519997", ownerKind: "naturalPerson", maxMessageBytes: 1000,
                      mailboxBytes: 5000, retentionDays: 30, activeFrom: t0, suspendedFrom: t0 + 10, suspendedUntil: t0 + 20,
                      blockedFrom: t0 + 30.5, remote: true, partyId: "ap-b", partyIdType: "urn:type", endpoint: "https://ap-b.example/as4",
                      certificates: ["sha256:" + String(repeating: "ab", count: 32),
                                     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"])
    }

    func testImportThenLookUp() throws {
        let directory = try openAddressDirectory()
        defer { directory.close() }
        let result = try directory.importRecords([record("_DEFAULT@40003032949"), remote], replace: false, at: t0)
        XCTAssertEqual(result, AddressImportResult(added: 2))
        XCTAssertEqual(try directory.record(for: "_PRIVATE@16117519997"), remote, "every field comes back, certificates in order")
        XCTAssertEqual(try directory.record(for: "_DEFAULT@40003032949"), record("_DEFAULT@40003032949"))
        XCTAssertNil(try directory.record(for: "_default@40003032949"), "the store matches canonical spellings only")
        XCTAssertEqual(try directory.count(), 2)
        XCTAssertEqual(try directory.allRecords().map(\.address), ["_DEFAULT@40003032949", "_PRIVATE@16117519997"])
    }

    /// The rows naming an access point by party id: by value, whatever the type; local rows and
    /// other party ids are not among them.
    func testAddressesServedByAPartyId() throws {
        let directory = try openAddressDirectory()
        defer { directory.close() }
        var other = remote
        other.address = "_DEFAULT@40003000002"
        other.ownerId = "40003000002"
        other.ownerKind = "company"
        other.partyIdType = nil
        var elsewhere = other
        elsewhere.address = "_DEFAULT@40003000003"
        elsewhere.ownerId = "40003000003"
        elsewhere.partyId = "ap-c"
        _ = try directory.importRecords([record("_DEFAULT@40003032949"), remote, other, elsewhere], replace: false, at: t0)
        let served = try directory.addresses(servedBy: ["ap-b", "nobody"])
        XCTAssertEqual(served, ["ap-b": ["_DEFAULT@40003000002", "_PRIVATE@16117519997"]])
        XCTAssertEqual(try directory.addresses(servedBy: []), [:])
    }

    /// One record changed in one transaction: other fields stay; a missing one is created only
    /// from `missing`; a change the rules refuse changes nothing; two changes of different fields
    /// at the same moment both stay.
    func testModifyRecordChangesOnlyWhatItIsGivenAndLosesNoConcurrentChange() throws {
        let directory = try openAddressDirectory()
        defer { directory.close() }
        XCTAssertEqual(try directory.importRecords([remote], replace: false, at: t0), AddressImportResult(added: 1))
        let limited = try directory.modifyRecord(remote.address, missing: nil, at: t0 + 1) { $0.mailboxBytes = 9000 }
        var expected = remote
        expected.mailboxBytes = 9000
        XCTAssertEqual(limited, expected)
        XCTAssertEqual(try directory.record(for: remote.address), expected)
        XCTAssertNil(try directory.modifyRecord("X@40003032949", missing: nil, at: t0) { $0.mailboxBytes = 1 })
        XCTAssertNil(try directory.record(for: "X@40003032949"), "nothing created without a starting record")
        XCTAssertEqual(try directory.modifyRecord("X@40003032949", missing: record("X@40003032949"), at: t0) { $0.maxMessageBytes = 5 }?.maxMessageBytes, 5)
        XCTAssertThrowsError(try directory.modifyRecord(remote.address, missing: nil, at: t0) { $0.partyId = nil }, "a remote entry needs its party")
        XCTAssertEqual(try directory.record(for: remote.address), expected, "a refused change changes nothing")

        // Limits and the access point changed at the same moment, each by its own writer.
        let other = try openAddressDirectory()
        defer { other.close() }
        let at = t0
        DispatchQueue.concurrentPerform(iterations: 20) { i in
            if i % 2 == 0 {
                _ = try? directory.modifyRecord("X@40003032949", missing: nil, at: at) { $0.maxMessageBytes = 1000 + i }
            } else {
                _ = try? other.modifyRecord("X@40003032949", missing: nil, at: at) { $0.retentionDays = i }
            }
        }
        let last = try XCTUnwrap(try directory.record(for: "X@40003032949"))
        XCTAssertNotEqual(last.maxMessageBytes, 5, "a limits change stayed")
        XCTAssertNotNil(last.retentionDays, "a retention change stayed")
    }

    func testCountsMergeAndReplace() throws {
        let directory = try openAddressDirectory()
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
        let directory = try openAddressDirectory()
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

    func testClosedDirectoryRefuses() throws {
        let directory = try openAddressDirectory()
        directory.close()
        assertThrows(.closed) { try directory.record(for: "x") }
    }
}
