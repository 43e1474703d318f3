import Foundation
@testable import MessageStore
import XCTest

/// The non-digital persons register with its history and lookup log, opt-ins, and the company
/// register's replacing import, on SQLite (and on PostgreSQL in PostgresRecipientRegistersTests).
class RecipientRegistersTests: StoreTestCase {
    func openRegisters() throws -> any RecipientRegisters {
        switch Self.backend {
        case .sqlite: try SQLiteRecipientRegisters(dataDirectory: dataDirectory, now: t0)
        case .postgres: try PostgresRecipientRegisters(url: postgresURL, schema: .migrate, now: t0)
        }
    }

    func testEntriesAreValidInTheirWindowAndEndingKeepsThemWithTheirHistory() throws {
        let store = try openRegisters()
        defer { store.close() }
        let a = try store.addNonDigitalPerson(NewNonDigitalPerson(personCode: "16117519997", reason: "court decision", validFrom: t0, validUntil: t0 + 100),
                                              by: "registry-operator", at: t0 - 1)
        let b = try store.addNonDigitalPerson(NewNonDigitalPerson(personCode: "32123456789", reason: "no internet", validFrom: t0 + 10, validUntil: nil),
                                              by: "registry-operator", at: t0 - 1)
        XCTAssertEqual(a.recordedBy, "registry-operator")
        XCTAssertEqual(a.recordedAt, t0 - 1)
        let codes = ["16117519997", "32123456789", "01019012349"]
        XCTAssertEqual(try store.validNonDigitalPersons(personCodes: codes, at: t0 - 0.001), [:], "before either starts")
        XCTAssertEqual(try store.validNonDigitalPersons(personCodes: codes, at: t0).keys.sorted(), ["16117519997"], "the start is inclusive")
        XCTAssertEqual(try store.validNonDigitalPersons(personCodes: codes, at: t0 + 10).keys.sorted(), ["16117519997", "32123456789"])
        XCTAssertEqual(try store.validNonDigitalPersons(personCodes: codes, at: t0 + 100).keys.sorted(), ["32123456789"], "the end is exclusive")

        let ended = try XCTUnwrap(try store.endNonDigitalPerson(id: b.id, by: "registry-operator-2", reason: "got an e-address", at: t0 + 50))
        XCTAssertEqual(ended.endedBy, "registry-operator-2")
        XCTAssertEqual(try store.validNonDigitalPersons(personCodes: codes, at: t0 + 49)["32123456789"]?.id, b.id)
        XCTAssertNil(try store.validNonDigitalPersons(personCodes: codes, at: t0 + 50)["32123456789"], "ended from then on")
        XCTAssertThrowsError(try store.endNonDigitalPerson(id: b.id, by: "x", reason: "again", at: t0 + 60))
        XCTAssertNil(try store.endNonDigitalPerson(id: 9999, by: "x", reason: "none", at: t0 + 60))
        // The entry stays, listed with its ending; the history holds both steps with who and why.
        XCTAssertEqual(try store.nonDigitalPersons(personCode: nil, validAt: nil, afterId: 0, limit: 10).map(\.id), [a.id, b.id])
        XCTAssertEqual(try store.nonDigitalPersons(personCode: nil, validAt: t0 + 60, afterId: 0, limit: 10).map(\.id), [a.id])
        XCTAssertEqual(try store.nonDigitalPersons(personCode: "32123456789", validAt: nil, afterId: 0, limit: 10).first?.endedAt, t0 + 50)
        let history = try store.nonDigitalHistory(personCode: "32123456789", afterId: 0, limit: 10)
        XCTAssertEqual(history.map { "\($0.action) \($0.by) \($0.detail)" }, ["added registry-operator no internet", "ended registry-operator-2 got an e-address"])
        XCTAssertEqual(try store.nonDigitalHistory(personCode: nil, afterId: 0, limit: 10).count, 3)
        XCTAssertThrowsError(try store.addNonDigitalPerson(NewNonDigitalPerson(personCode: "1611751999", reason: "x", validFrom: t0, validUntil: nil), by: "o", at: t0))
        XCTAssertThrowsError(try store.addNonDigitalPerson(NewNonDigitalPerson(personCode: "16117519997", reason: "x", validFrom: t0, validUntil: t0), by: "o", at: t0))
    }

    func testTheLookupLogAnswersWhoAskedAboutWhom() throws {
        let store = try openRegisters()
        defer { store.close() }
        try store.logChannelLookup(connection: "vid", personCodes: ["16117519997", "32123456789"], at: t0)
        try store.logChannelLookup(connection: "pmlp", personCodes: ["32123456789"], at: t0 + 1)
        try store.logChannelLookup(connection: "vid", personCodes: ["161175199970"], at: t0 + 2)
        XCTAssertEqual(try store.channelLookups(personCode: nil, limit: 10).map(\.connection), ["vid", "pmlp", "vid"], "newest first")
        XCTAssertEqual(try store.channelLookups(personCode: "32123456789", limit: 10).map(\.connection), ["pmlp", "vid"])
        XCTAssertEqual(try store.channelLookups(personCode: "16117519997", limit: 10).map(\.at), [t0], "a code inside a longer one does not match")
        XCTAssertEqual(try store.channelLookups(personCode: nil, limit: 10).last?.personCodes, ["16117519997", "32123456789"])
        // A refused submission that read the register is recorded beside them, with its purpose.
        try store.logChannelLookup(connection: "company-dms", personCodes: ["32123456789"], purpose: .refusedSubmission, at: t0 + 3)
        XCTAssertEqual(try store.channelLookups(personCode: "32123456789", limit: 10).map { "\($0.connection) \($0.purpose.rawValue)" },
                       ["company-dms refusedSubmission", "pmlp lookup", "vid lookup"])
    }

    /// Lookups logged before purposes were kept are channel lookups; no other purpose is stored.
    func testLookupsLoggedBeforePurposesWereKeptAreChannelLookups() throws {
        let added = try XCTUnwrap((Self.backend == .sqlite ? Schema.migrations : PostgresSchema.migrations)
            .first { $0.sql == ChannelLookupPurposeSchema.sql }?.version)
        try createDatabase(before: added)
        try rawSQL("INSERT INTO channel_lookups (connection, at, person_count, person_codes) VALUES ('vid', \(t0.storeMilliseconds), 1, '16117519997')")
        let store = try openRegisters()
        defer { store.close() }
        XCTAssertEqual(try store.channelLookups(personCode: nil, limit: 10).map(\.purpose), [.lookup])
        XCTAssertThrowsError(try rawSQL("""
            INSERT INTO channel_lookups (connection, at, person_count, person_codes, purpose) VALUES ('x', 0, 1, '16117519997', 'curiosity')
            """))
        try store.logChannelLookup(connection: "dms", personCodes: ["16117519997"], purpose: .refusedSubmission, at: t0 + 1)
        XCTAssertEqual(try store.channelLookups(personCode: "16117519997", limit: 10).map(\.purpose), [.refusedSubmission, .lookup])
        // Append-only as before: the purpose cannot be changed afterwards either.
        XCTAssertThrowsError(try rawSQL("UPDATE channel_lookups SET purpose = 'lookup'"))
    }

    func testOptInsAreKeptPerAddress() throws {
        let store = try openRegisters()
        defer { store.close() }
        XCTAssertNil(try store.optIn(address: "_PRIVATE@16117519997"))
        let record = MessagingOptInRecord(address: "_PRIVATE@16117519997", fromCompanies: true, fromPersons: false, setBy: "person-dms", setAt: t0)
        XCTAssertEqual(try store.updateOptIn(address: record.address, fromCompanies: true, fromPersons: nil, setBy: "person-dms", at: t0), record)
        XCTAssertEqual(try store.optIn(address: "_PRIVATE@16117519997"), record)
        // A flag left out keeps its stored value; the other changes.
        let changed = MessagingOptInRecord(address: record.address, fromCompanies: true, fromPersons: true, setBy: "other-dms", setAt: t0 + 5)
        XCTAssertEqual(try store.updateOptIn(address: record.address, fromCompanies: nil, fromPersons: true, setBy: "other-dms", at: t0 + 5), changed)
        XCTAssertEqual(try store.optIn(address: "_PRIVATE@16117519997"), changed)
        XCTAssertEqual(try store.updateOptIn(address: record.address, fromCompanies: false, fromPersons: nil, setBy: "person-dms", at: t0 + 6).fromPersons,
                       true)
        XCTAssertEqual(try store.updateOptIn(address: "_PRIVATE@32123456789", fromCompanies: nil, fromPersons: nil, setBy: "x", at: t0),
                       MessagingOptInRecord(address: "_PRIVATE@32123456789", fromCompanies: false, fromPersons: false, setBy: "x", setAt: t0))
    }

    /// Two connections changing different flags of one address at the same moment: both changes stay.
    func testConcurrentOptInChangesOfDifferentFlagsBothStay() throws {
        let address = "_PRIVATE@16117519997"
        for round in 0..<20 {
            let a = try openRegisters(), b = try openRegisters()
            defer { a.close(); b.close() }
            _ = try a.updateOptIn(address: address, fromCompanies: false, fromPersons: false, setBy: "reset", at: t0)
            let group = DispatchGroup()
            let at = t0 + 1
            for (store, companies) in [(a, true), (b, false)] {
                group.enter()
                DispatchQueue.global().async {
                    _ = try? store.updateOptIn(address: address, fromCompanies: companies ? true : nil, fromPersons: companies ? nil : true,
                                               setBy: "round-\(round)", at: at)
                    group.leave()
                }
            }
            group.wait()
            let stored = try XCTUnwrap(try a.optIn(address: address))
            XCTAssertTrue(stored.fromCompanies && stored.fromPersons, "round \(round): \(stored)")
        }
    }

    func testACompanyImportReplacesTheRegisterAndReportsTheDifference() throws {
        let store = try openRegisters()
        defer { store.close() }
        XCTAssertFalse(try store.hasCompanies())
        let first = [CompanyRecord(registrationNumber: "40003032949", name: "Latvenergo", legalForm: "AS", status: "", liquidatedOn: nil),
                     CompanyRecord(registrationNumber: "40003000001", name: "Beigas", legalForm: "SIA", status: "", liquidatedOn: nil),
                     CompanyRecord(registrationNumber: "40003000002", name: "Vecā", legalForm: "SIA", status: "", liquidatedOn: nil)]
        var report = try store.replaceCompanies(first, at: t0)
        XCTAssertEqual(report.added, ["40003032949", "40003000001", "40003000002"])
        XCTAssertEqual(report.unchanged, 0)
        XCTAssertTrue(try store.hasCompanies())
        let second = [first[0],
                      CompanyRecord(registrationNumber: "40003000001", name: "Beigas", legalForm: "SIA", status: "L", liquidatedOn: t0 - 86_400),
                      CompanyRecord(registrationNumber: "50003000003", name: "Jaunā", legalForm: "SIA", status: "", liquidatedOn: nil)]
        report = try store.replaceCompanies(second, at: t0)
        XCTAssertEqual(report.added, ["50003000003"])
        XCTAssertEqual(report.changed.map { "\($0.registrationNumber) \($0.fields)" }, ["40003000001 [\"status\", \"liquidationDate\"]"])
        XCTAssertEqual(report.liquidated, ["40003000001"])
        XCTAssertEqual(report.removed, ["40003000002"])
        XCTAssertEqual(report.unchanged, 1)
        XCTAssertEqual(try store.companyCount(), 3)
        XCTAssertEqual(try store.company(registrationNumber: "40003000001"), second[1])
        XCTAssertNil(try store.company(registrationNumber: "40003000002"))
        // A file with a number twice changes nothing.
        XCTAssertThrowsError(try store.replaceCompanies([first[0], first[0]], at: t0))
        XCTAssertEqual(try store.companyCount(), 3)
    }

    func testTheDirectoryAnswersABatchOfAddressesAtOnce() throws { try checkDirectoryBatchRead() }

    /// The audit trail holds against SQL written by hand too: the database refuses to change it.
    func testHistoryAndLookupLogAreAppendOnlyAndEntriesAreNeverDeleted() throws {
        let store = try openRegisters()
        defer { store.close() }
        _ = try store.addNonDigitalPerson(NewNonDigitalPerson(personCode: "16117519997", reason: "r", validFrom: t0, validUntil: nil), by: "o", at: t0)
        try store.logChannelLookup(connection: "vid", personCodes: ["16117519997"], at: t0)
        for sql in ["UPDATE non_digital_history SET by_connection = 'someone else'", "DELETE FROM non_digital_history",
                    "UPDATE channel_lookups SET connection = 'someone else'", "DELETE FROM channel_lookups", "DELETE FROM non_digital_persons"] {
            XCTAssertThrowsError(try rawSQL(sql), sql) { error in
                XCTAssertTrue("\(error)".contains("refused"), "\(sql): refused by the database's trigger, not otherwise: \(error)")
            }
        }
        XCTAssertEqual(try store.nonDigitalHistory(personCode: nil, afterId: 0, limit: 10).first?.by, "o")
        XCTAssertEqual(try store.channelLookups(personCode: nil, limit: 10).first?.connection, "vid")
    }

    func testABatchOfTenThousandCodesIsAnsweredInOneQuery() throws {
        let store = try openRegisters()
        defer { store.close() }
        for i in stride(from: 0, to: 10_000, by: 500) {
            _ = try store.addNonDigitalPerson(NewNonDigitalPerson(personCode: "32" + String(format: "%09d", i), reason: "r\(i)", validFrom: t0, validUntil: nil),
                                              by: "o", at: t0)
        }
        let codes = (0..<10_000).map { "32" + String(format: "%09d", $0) }
        let found = try store.validNonDigitalPersons(personCodes: codes, at: t0)
        XCTAssertEqual(found.count, 20)
        XCTAssertEqual(found["32000009500"]?.reason, "r9500")
    }
}

extension RecipientRegistersTests {
    /// The directory's batch read the channel lookup uses: only the addresses that exist.
    func checkDirectoryBatchRead() throws {
        let directory = try openAddressDirectory()
        defer { directory.close() }
        _ = try directory.importRecords([AddressRecord(address: "_PRIVATE@16117519997", ownerId: "16117519997", ownerKind: "naturalPerson"),
                                         AddressRecord(address: "_DEFAULT@40003032949", ownerId: "40003032949", ownerKind: "company")], replace: false, at: t0)
        let found = try directory.records(for: ["_PRIVATE@32123456789", "_PRIVATE@16117519997", "_DEFAULT@40003032949", "x\"],[\""])
        XCTAssertEqual(found.map(\.address).sorted(), ["_DEFAULT@40003032949", "_PRIVATE@16117519997"])
        XCTAssertEqual(try directory.records(for: []), [])
    }
}
