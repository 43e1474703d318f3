import Foundation
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw directory import|export|lookup`, run through the built binary against a data
/// directory of its own, with the shipped example directory.
final class DirectoryCommandTests: XCTestCase {
    private var temporary: URL!
    private var data: String { temporary.appendingPathComponent("data").path }
    private let example = GatewayProcess.projectRoot.appendingPathComponent("examples/directory.csv").path
    private let exampleJSON = GatewayProcess.projectRoot.appendingPathComponent("examples/directory.json").path

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-dircli-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temporary)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = temporary.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func importExample() throws {
        let r = try GatewayProcess.run(["directory", "import", example, "--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testHelpAndUsage() throws {
        for command in [["directory"], ["directory", "import"], ["directory", "export"], ["directory", "lookup"]] {
            let r = try GatewayProcess.run(command + ["--help"])
            XCTAssertEqual(r.status, 0, "\(command)")
            XCTAssertTrue(r.stdout.hasPrefix("Usage: as4gw directory import FILE"), r.stdout)
            XCTAssertTrue(r.stdout.contains("Exit status"))
        }
        XCTAssertTrue(try GatewayProcess.run(["--help"]).stdout.contains("directory import|export|lookup"))
        let usage: [[String]] = [
            ["directory"], ["directory", "sync"], ["directory", "import"], ["directory", "import", example, example],
            ["directory", "import", example, "--format", "xml"], ["directory", "import", example, "--bogus"],
            ["directory", "import", temporary.appendingPathComponent("dir.txt").path],
            ["directory", "export", "extra"], ["directory", "lookup"], ["directory", "lookup", "_DEFAULT@40003032949", "--size", "-1"],
            ["directory", "lookup", "_DEFAULT@40003032949", "--at", "tomorrow"],
            ["directory", "import", example, "--data", data, "--config", example],
        ]
        for args in usage {
            let r = try GatewayProcess.run(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Usage: as4gw directory"), "\(args)")
        }
        let missing = try GatewayProcess.run(["directory", "import", "/nonexistent/dir.csv", "--data", data])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("cannot read /nonexistent/dir.csv"), missing.stderr)
        let noStore = try GatewayProcess.run(["directory", "lookup", "_DEFAULT@40003032949", "--data", data])
        XCTAssertEqual(noStore.status, 2)
        XCTAssertTrue(noStore.stderr.contains("messages.sqlite is missing"), noStore.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: data), "a lookup creates no store")
    }

    func testImportCountsAndReplace() throws {
        let first = try GatewayProcess.run(["directory", "import", example, "--data", data])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.hasPrefix("\(example): 6 entries: 6 added, 0 changed, 0 unchanged, 0 removed (read "), first.stdout)
        let again = try GatewayProcess.run(["directory", "import", exampleJSON, "--data", data])
        XCTAssertTrue(again.stdout.contains("6 entries: 0 added, 0 changed, 6 unchanged, 0 removed"), "the JSON example holds the same entries: \(again.stdout)")
        let smaller = try write("smaller.csv", """
            address,ownerId,ownerKind,accessPoint,retentionDays
            _DEFAULT@90000048472,90000048472,institution,local,30
            NEW@90000048472,90000048472,institution,local,

            """)
        let merged = try GatewayProcess.run(["directory", "import", smaller, "--data", data])
        XCTAssertTrue(merged.stdout.contains("2 entries: 1 added, 1 changed, 0 unchanged, 0 removed"), merged.stdout)
        let replaced = try GatewayProcess.run(["directory", "import", smaller, "--data", data, "--replace"])
        XCTAssertTrue(replaced.stdout.contains("2 entries: 0 added, 0 changed, 2 unchanged, 5 removed"), replaced.stdout)
        let export = try GatewayProcess.run(["directory", "export", "--data", data])
        XCTAssertEqual(export.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count, 3, export.stdout)
    }

    func testABadFileIsReportedAndChangesNothing() throws {
        try importExample()
        let before = try GatewayProcess.run(["directory", "export", "--data", data]).stdout
        let bad = try write("bad.csv", """
            address,ownerId,ownerKind,accessPoint
            _DEFAULT@90000048472,90000048472,institution,local
            _PRIVATE@161175-19998,16117519998,naturalPerson,local
            X@90000048472,90000048472,government,local
            _default@90000048472,90000048472,institution,local

            """)
        let r = try GatewayProcess.run(["directory", "import", bad, "--data", data, "--replace"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, """
            \(bad):3:1: address "_PRIVATE@161175-19998" is not an e-address: the personal code 16117519998 has check digit 8, expected 7 (mistyped digit?)
            \(bad):4:27: ownerKind must be institution, company, naturalPerson, not "government"
            \(bad):5:1: address _DEFAULT@90000048472 is already on line 2

            """)
        XCTAssertEqual(try GatewayProcess.run(["directory", "export", "--data", data]).stdout, before, "nothing imported, nothing removed")
    }

    /// Rows naming the party id of a self-service access point for an address outside its
    /// registration are imported, each with a warning saying what follows (submissions refused,
    /// the access point out of service or not approvable); its own address, a rejected
    /// registration's party id and local rows give none.
    func testRowsNamingASelfServiceAccessPointForOtherAddressesAreWarnedOf() throws {
        let registrations = try SQLiteRegistrationStore(dataDirectory: data)
        func register(_ id: String, partyId: String, address: String) throws {
            try registrations.addRegistration(Registration(id: id, kind: .accessPoint, registrationNumber: String(address.suffix(11)),
                                                           registrantSubject: "CN=\(id)", registrantSHA256: String(repeating: "0", count: 64),
                                                           addresses: [address], endpoint: "https://\(partyId).example.lv/as4", partyId: partyId,
                                                           createdAt: Date()),
                                              certificates: [], actor: "registrant:\(id)", at: Date())
        }
        try register("reg-approved", partyId: "ap-company", address: "_DEFAULT@40003032949")
        try register("reg-pending", partyId: "ap-pending", address: "INFO@40003032949")
        try register("reg-rejected", partyId: "ap-rejected", address: "_DEFAULT@90000048472")
        _ = try registrations.decide(id: "reg-approved", status: .approved, actor: "operator:ops", reason: nil, at: Date())
        _ = try registrations.decide(id: "reg-rejected", status: .rejected, actor: "operator:ops", reason: "no", at: Date())
        registrations.close()

        let remote = ",remote,%@,urn:oasis:names:tc:ebcore:partyid-type:unregistered,https://%@.example.lv/as4,sha256:" + String(repeating: "ab", count: 32)
        func row(_ address: String, _ owner: String, _ partyId: String) -> String {
            "\(address),\(owner),company" + String(format: remote, partyId, partyId)
        }
        let file = try write("self-service.csv", ([
            "address,ownerId,ownerKind,accessPoint,partyId,partyIdType,endpoint,certificates",
            row("_DEFAULT@40003032949", "40003032949", "ap-company"),
            row("SALES@40003032949", "40003032949", "ap-company"),
            row("_default@40003032950", "40003032950", "ap-pending"),
            row("DVS@40003032949", "40003032949", "ap-rejected"),
            "_DEFAULT@90000048472,90000048472,institution,local,,,,",
        ] + [""]).joined(separator: "\n"))
        let r = try GatewayProcess.run(["directory", "import", file, "--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("5 entries: 5 added, 0 changed, 0 unchanged, 0 removed"), r.stdout)
        XCTAssertEqual(r.stderr, """
            \(file): warning: SALES@40003032949 names party id ap-company, the self-service access point of registration reg-approved \
            (approved) for other addresses: submissions to SALES@40003032949 are refused, and that access point is taken out of service \
            until the directory or the registration is corrected
            \(file): warning: _DEFAULT@40003032950 names party id ap-pending, the self-service access point of registration reg-pending \
            (pending) for other addresses: submissions to _DEFAULT@40003032950 are refused, and the registration cannot be approved \
            until the directory or the registration is corrected

            """)
        let export = try GatewayProcess.run(["directory", "export", "--data", data]).stdout
        XCTAssertTrue(export.contains("SALES@40003032949") && export.contains("_DEFAULT@40003032950"), "imported all the same: \(export)")
    }

    func testLookupOutcomes() throws {
        try importExample()
        func lookup(_ args: String...) throws -> GatewayProcess.Result {
            try GatewayProcess.run(["directory", "lookup"] + args + ["--data", data])
        }
        let local = try lookup("_default@90000048472", "--at", "2026-02-01T00:00:00Z")
        XCTAssertEqual(local.status, 0, local.stderr)
        XCTAssertEqual(local.stdout, """
            outcome: localMailbox
            reason: _DEFAULT@90000048472 is served by this gateway's mailbox
            address: _DEFAULT@90000048472
            owner: 90000048472
            ownerKind: institution

            """)
        let early = try lookup("_DEFAULT@90000048472", "--at", "2025-12-31T21:59:59Z")
        XCTAssertEqual(early.status, 1)
        XCTAssertTrue(early.stdout.hasPrefix("outcome: notYetActive\n"), early.stdout)

        let remote = try lookup("_DEFAULT@40003032949", "--from", "_default@90000048472", "--json")
        XCTAssertEqual(remote.status, 0, remote.stderr)
        XCTAssertEqual(remote.json?["outcome"] as? String, "remoteAccessPoint")
        XCTAssertEqual(remote.json?["originalSender"] as? String, "_DEFAULT@90000048472")
        XCTAssertEqual(remote.json?["finalRecipient"] as? String, "_DEFAULT@40003032949")
        XCTAssertEqual(remote.json?["endpoint"] as? String, "https://gw-b.example.lv/as4")
        XCTAssertEqual(remote.json?["partyId"] as? String, "gw-b")

        let suspended = try lookup("_PRIVATE@161175-19997", "--at", "2026-06-15T00:00:00Z")
        XCTAssertEqual(suspended.status, 1)
        XCTAssertTrue(suspended.stdout.contains("outcome: suspended\nreason: _PRIVATE@16117519997 is suspended since 2026-05-31T21:00:00Z until 2026-06-30T21:00:00Z"), suspended.stdout)
        XCTAssertEqual(try lookup("_PRIVATE@161175-19997", "--at", "2026-06-30T21:00:00Z").status, 0, "the suspension has ended")

        let blocked = try lookup("_PRIVATE@32123456789", "--at", "2027-01-01T00:00:00Z", "--json")
        XCTAssertEqual(blocked.status, 1)
        XCTAssertEqual(blocked.json?["outcome"] as? String, "blocked")

        let large = try lookup("DVS@90000048472", "--size", "1073741825")
        XCTAssertEqual(large.status, 1)
        XCTAssertTrue(large.stdout.contains("outcome: tooLarge\nreason: the message is 1073741825 bytes; DVS@90000048472 accepts at most 1073741824 bytes"), large.stdout)
        XCTAssertEqual(try lookup("DVS@90000048472", "--size", "1073741824").status, 0)

        let unknown = try lookup("OTHER@90000048472")
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stdout, "outcome: unknownAddress\nreason: OTHER@90000048472 is not in the e-address directory\n")

        let invalid = try lookup("_PRIVATE@161175-19998")
        XCTAssertEqual(invalid.status, 1)
        XCTAssertEqual(invalid.stdout, "")
        XCTAssertTrue(invalid.stderr.contains("has check digit 8, expected 7"), invalid.stderr)
        XCTAssertEqual(try lookup("_DEFAULT@90000048472", "--from", "nobody").status, 1, "an invalid sender is refused too")
    }

    func testExportRoundTripsInBothFormats() throws {
        try importExample()
        for format in ["csv", "json"] {
            let exported = try GatewayProcess.run(["directory", "export", "--format", format, "--data", data])
            XCTAssertEqual(exported.status, 0, exported.stderr)
            let file = try write("export.\(format)", exported.stdout)
            let again = try GatewayProcess.run(["directory", "import", file, "--data", data, "--replace"])
            XCTAssertTrue(again.stdout.contains("6 entries: 0 added, 0 changed, 6 unchanged, 0 removed"), "\(format): \(again.stdout)")
            XCTAssertEqual(try GatewayProcess.run(["directory", "export", "--format", format, "--data", data]).stdout, exported.stdout)
        }
        let json = try GatewayProcess.run(["directory", "export", "--format", "json", "--data", data]).stdout
        XCTAssertEqual(json, try String(contentsOfFile: exampleJSON, encoding: .utf8), "the shipped JSON example is the CSV example's export")
    }

    func testAStoredRowThatFailsTheChecksIsReportedNotRouted() throws {
        let directory = try SQLiteAddressDirectory(dataDirectory: data)
        _ = try directory.importRecords([AddressRecord(address: "_default@40003032949", ownerId: "40003032949", ownerKind: "company")],
                                        replace: false, at: Date())
        directory.close()
        let export = try GatewayProcess.run(["directory", "export", "--data", data])
        XCTAssertEqual(export.status, 2)
        XCTAssertTrue(export.stderr.contains("stored directory entry _default@40003032949 is invalid: the address is not stored in its canonical spelling"), export.stderr)
        let lookup = try GatewayProcess.run(["directory", "lookup", "_DEFAULT@40003032949", "--data", data])
        XCTAssertEqual(lookup.stdout, "outcome: unknownAddress\nreason: _DEFAULT@40003032949 is not in the e-address directory\n")
    }
}
