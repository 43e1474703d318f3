import AS4Crypto
import Foundation
import XCTest
@testable import Routing

/// Directory files: CSV and JSON read to the same entries, every problem reported with its line
/// and column, nothing returned from a file with problems, and export → import round trips.
final class DirectoryFileTests: XCTestCase {
    private static let certificate: Certificate = {
        let key = try! PrivateKey.generateEC(curve: .p256)
        return try! CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "ap-b"), key: key,
                                                                validUntil: Date(timeIntervalSinceNow: 86_400))
    }()
    private let fingerprint = String(repeating: "0f", count: 32)

    static let header = "address,ownerId,ownerKind,maxMessageBytes,mailboxBytes,retentionDays,activeFrom,suspendedFrom,suspendedUntil,blockedFrom,accessPoint,partyId,partyIdType,endpoint,certificates\r\n"

    private var sampleCSV: String {
        let pem = try! Self.certificate.pemEncoded().trimmingCharacters(in: .whitespacesAndNewlines)
        return Self.header
            + "_DEFAULT@90000048472,90000048472,institution,10485760,1073741824,3650,2026-01-01T00:00:00+02:00,,,,local,,,,\r\n"
            + "_private@161175-19997,16117519997,naturalPerson,,,,,2026-03-01T00:00:00Z,2026-03-15T00:00:00Z,,local,,,,\r\n"
            + "invoices@40003032949,40003032949,company,,,,,,,2027-01-01T00:00:00.250Z,remote,ap-b,urn:oasis:names:tc:ebcore:partyid-type:unregistered,https://ap-b.example/as4,\"\(pem)\nsha256:\(fingerprint.uppercased())\"\r\n"
            + "iso6523-actorid-upis::0190:NL123,peppol-nl-123,company,,,,,,,,remote,ap-c,,https://ap-c.example/as4,sha256:\(fingerprint)\r\n"
    }

    private func decode(_ text: String, _ format: DirectoryFile.Format = .csv, options: DirectoryFile.Options = .init()) throws -> [DirectoryEntry] {
        try DirectoryFile.decode(Array(text.utf8), format: format, file: "dir.\(format.rawValue)", options: options)
    }

    /// The diagnostics of a file that must be refused, as `line:col: message` strings.
    private func problems(_ text: String, _ format: DirectoryFile.Format = .csv, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        do {
            let entries = try decode(text, format)
            XCTFail("accepted \(entries.count) entries", file: file, line: line)
            return []
        } catch let error as DirectoryFileError {
            return error.diagnostics.map { "\($0.line):\($0.column): \($0.message)" }
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return []
        }
    }

    // MARK: CSV

    func testSampleCSVDecodes() throws {
        let entries = try decode(sampleCSV)
        XCTAssertEqual(entries.count, 4)
        let institution = entries[0]
        XCTAssertEqual(institution.address.canonical, "_DEFAULT@90000048472")
        XCTAssertEqual(institution.owner, .init(id: "90000048472", kind: .institution))
        XCTAssertEqual(institution.limits, .init(maxMessageBytes: 10_485_760, mailboxBytes: 1_073_741_824, retentionDays: 3650))
        XCTAssertEqual(institution.availability.activeFrom, try DirectoryTime.parse("2025-12-31T22:00:00Z"))
        XCTAssertEqual(entries[1].address.canonical, "_PRIVATE@16117519997")
        XCTAssertEqual(entries[1].availability.suspendedUntil, try DirectoryTime.parse("2026-03-15T00:00:00Z"))
        guard case .remote(let ap) = entries[2].accessPoint else { return XCTFail("not remote") }
        XCTAssertEqual(ap.partyId, "ap-b")
        XCTAssertEqual(ap.endpoint.absoluteString, "https://ap-b.example/as4")
        XCTAssertEqual(ap.certificates, [.certificate(Self.certificate), .fingerprint(fingerprint)], "PEM and fingerprint in one field")
        XCTAssertTrue(ap.certificates[0].matches(Self.certificate))
        XCTAssertEqual(entries[2].availability.blockedFrom?.timeIntervalSince1970, try DirectoryTime.parse("2027-01-01T00:00:00Z").timeIntervalSince1970 + 0.25)
        XCTAssertEqual(entries[3].address.canonical, "iso6523-actorid-upis::0190:nl123")
    }

    func testColumnsInAnyOrderAndOptionalColumnsLeftOut() throws {
        let csv = "ownerKind,accessPoint,address,ownerId\ncompany,local,_DEFAULT@40003032949,40003032949\n\n"
        let entries = try decode(csv)
        XCTAssertEqual(entries.map(\.address.canonical), ["_DEFAULT@40003032949"])
        XCTAssertEqual(entries[0].accessPoint, .localMailbox)
        XCTAssertEqual(entries[0].limits, .init())
    }

    func testCSVHeaderProblems() {
        XCTAssertEqual(problems(""), ["0:0: is empty; a directory CSV starts with a header line naming its columns"])
        XCTAssertEqual(problems("address,ownerID,ownerKind,accessPoint,address\n"), [
            "1:1: header: the required column ownerId is missing",
            "1:9: header: \"ownerID\" is not a known column (did you mean \"ownerId\"?)",
            "1:39: header: column address is named twice",
        ])
    }

    func testCSVSyntaxErrorsCarryLineAndColumn() {
        let head = "address,ownerId,ownerKind,accessPoint\n"
        XCTAssertEqual(problems(head + "_DEFAULT@40003032949,4000\"3032949,company,local\n"),
                       ["2:26: CSV: a double quote inside an unquoted field (quote the whole field and write \"\" for a quote)"])
        XCTAssertEqual(problems(head + "_DEFAULT@40003032949,\"40003032949\"x,company,local\n"),
                       ["2:35: CSV: text after the closing quote of a field (write \"\" for a quote inside a quoted field)"])
        XCTAssertEqual(problems(head + "_DEFAULT@40003032949,40003032949,company,local\n_DEFAULT@40003032949,\"4000\n\n"),
                       ["3:22: CSV: the quoted field starting here is never closed"])
        XCTAssertEqual(problems(head + "_DEFAULT@40003032949,40003032949,company,local\r_X"),
                       ["2:47: CSV: a carriage return not followed by a line feed"])
        XCTAssertEqual(problems(head + "_DEFAULT@40003032949,40003032949,company\n"), ["2:1: the record has 3 fields, the header 4"])
        XCTAssertThrowsError(try DirectoryFile.decode([0x61, 0x0A, 0xFF, 0x0A], format: .csv, file: "f")) {
            XCTAssertEqual(($0 as? DirectoryFileError)?.description, "f:1:1: CSV: the file is not valid UTF-8")
        }
    }

    func testCSVValueProblemsAllReportedWithPositions() {
        let csv = Self.header
            + "_DEFAULT@40003032949,40003032949,corporation,0,,,2026-01-01,,,,local,,,,\n"                    // line 2
            + "_PRIVATE@010190-12340,01019012340,naturalPerson,,,,,,,,local,,,,\n"                             // line 3
            + "_DEFAULT@40003032949,40003032949,company,,,,,,,,local,ap-x,,,\n"                              // line 4
            + "\"multi\nline@40003032949\",40003032949,company,,,,,,,,remote,,,http://ap.example/as4,sha256:12\n" // lines 5-6
            + "_DEFAULT@50003000001,50003000002,naturalPerson,,,,,2026-02-01T00:00:00Z,2026-01-01T00:00:00Z,,local,,,,\n" // line 7
            + "_DEFAULT@90000048472, 90000048472,institution,,,,,,,,local,,,,\n"                             // line 8
        XCTAssertEqual(problems(csv), [
            "2:34: ownerKind must be institution, company, naturalPerson, not \"corporation\"",
            "2:46: maxMessageBytes must be a whole number of at least 1, not \"0\"",
            "2:50: activeFrom \"2026-01-01\" is a date without a time and zone; write an RFC 3339 time with a zone, e.g. 2026-03-01T00:00:00+02:00 or 2026-03-01T00:00:00Z",
            "3:1: address \"_PRIVATE@010190-12340\" is not an e-address: the personal code 01019012340 has check digit 0, expected 9 (mistyped digit?)",
            "4:55: partyId is only for accessPoint remote; this address is served by the local mailbox",
            "5:1: address \"multi\nline@40003032949\" is not an e-address: an e-address is printable ASCII without spaces",
            "6:53: partyId is required for accessPoint remote",
            "6:55: endpoint must be an https URL with a host, without user, password or fragment, not \"http://ap.example/as4\"",
            "6:77: certificates a SHA-256 fingerprint is 64 hex digits, not 2 characters \"12\"",
            "7:22: ownerId \"50003000002\" is not 50003000001, the number in the address _DEFAULT@50003000001",
            "7:34: ownerKind is naturalPerson, but _DEFAULT@50003000001 is a legal person's address (a person's is _PRIVATE@<personal code>)",
            "7:73: suspendedUntil 2026-01-01T00:00:00Z is not after suspendedFrom 2026-02-01T00:00:00Z",
            "8:22: ownerId must not start or end with whitespace",
        ])
    }

    func testNonASCIIWhitespaceIsRefusedToo() {
        let csv = "address,ownerId,ownerKind,accessPoint\n_DEFAULT@40003032949,\u{00A0}40003032949,company,local\n"
            + "_DEFAULT@50003000001,50003000001\u{2003},company,local\n"
        XCTAssertEqual(problems(csv), ["2:22: ownerId must not start or end with whitespace",
                                       "3:22: ownerId must not start or end with whitespace"])
    }

    func testCSVDuplicatesUnderAnySpellingAreRefused() {
        let csv = "address,ownerId,ownerKind,accessPoint\n_DEFAULT@40003032949,40003032949,company,local\n"
            + "INVOICES@40003032949,40003032949,company,local\n_default@40003032949,40003032949,company,local\n"
            + "_PRIVATE@16117519997,16117519997,naturalPerson,local\n_PRIVATE@161175-19997,16117519997,naturalPerson,local\n"
        XCTAssertEqual(problems(csv), ["4:1: address _DEFAULT@40003032949 is already on line 2",
                                       "6:1: address _PRIVATE@16117519997 is already on line 5"])
    }

    func testMissingRequiredValueAndPersonAddressKind() {
        let csv = "address,ownerId,ownerKind,accessPoint\n_DEFAULT@40003032949,,company,local\n_PRIVATE@16117519997,16117519997,company,local\n"
        XCTAssertEqual(problems(csv), ["2:22: ownerId is required",
                                       "3:34: ownerKind is company, but a _PRIVATE@ address belongs to a naturalPerson"])
    }

    func testInsecureEndpointOnlyWhenAllowed() throws {
        let csv = "address,ownerId,ownerKind,accessPoint,partyId,endpoint,certificates\n_DEFAULT@40003032949,40003032949,company,remote,ap,http://127.0.0.1:8080/as4,sha256:\(fingerprint)\n"
        XCTAssertEqual(problems(csv).count, 1)
        XCTAssertEqual(try decode(csv, options: .init(allowInsecureEndpoints: true)).count, 1)
    }

    // MARK: JSON

    func testJSONMatchesCSV() throws {
        let fromCSV = try decode(sampleCSV)
        let json = DirectoryFile.encode(fromCSV, format: .json)
        XCTAssertEqual(try decode(json, .json), fromCSV)
        XCTAssertTrue(json.contains("\"ownerKind\": \"naturalPerson\""))
        XCTAssertTrue(json.contains("\"activeFrom\": \"2025-12-31T22:00:00Z\""))
        XCTAssertTrue(json.contains("\"blockedFrom\": \"2027-01-01T00:00:00.250Z\""))
    }

    func testJSONProblemsWithLineAndColumn() {
        let json = """
        {
          "addresses": [
            {"address": "_DEFAULT@40003032949", "ownerId": "40003032949", "ownerKind": "company", "accessPoint": "local"},
            {"address": "_DEFAULT@40003032949", "ownerId": "40003032949", "ownerKind": "company", "accessPoint": "local"},
            {"address": "_PRIVATE@16117519997", "ownerId": "16117519997", "ownerKind": "person", "accessPoint": "local",
             "maxMessageBytes": "10", "retentionDays": 1.5, "activFrom": "2026-01-01T00:00:00Z"},
            {"address": "X@40003032949", "ownerId": "40003032949", "ownerKind": "company", "accessPoint": "remote",
             "endpoint": "https://ap.example/as4", "certificates": ["sha256:zz"]},
            {"address": "_DEFAULT@4000303294", "ownerId": "4000303294", "ownerKind": "company", "accessPoint": "local",
             "suspendedFrom": "2026-01-01T00:00:00"}
          ]
        }
        """
        XCTAssertEqual(problems(json, .json), [
            "4:6: addresses[1].address _DEFAULT@40003032949 is already on line 3",
            "5:67: addresses[2].ownerKind must be \"institution\", \"company\" or \"naturalPerson\"",
            "6:6: addresses[2].maxMessageBytes must be an integer, not a string",
            "6:31: addresses[2].retentionDays must be a whole number",
            "6:53: addresses[2].activFrom is not a known key (did you mean \"activeFrom\"?)",
            "7:5: addresses[3].partyId is required for accessPoint remote",
            "8:44: addresses[3].certificates a SHA-256 fingerprint is 64 hex digits, not 2 characters \"zz\"",
            "9:6: addresses[4].address \"_DEFAULT@4000303294\" is not an e-address: the registration number must be 11 digits, not \"4000303294\"",
            "10:6: addresses[4].suspendedFrom \"2026-01-01T00:00:00\" is not an RFC 3339 time with a zone, e.g. 2026-03-01T00:00:00+02:00 or 2026-03-01T00:00:00Z",
        ])
        XCTAssertEqual(problems("{\"addresses\": [\n  {\"address\": 1,}\n]}", .json), ["2:17: JSON: trailing comma before '}'"])
        XCTAssertEqual(problems("{\"entries\": []}", .json), ["1:1: addresses is required", "1:2: entries is not a known key"])
    }

    /// An archive time beyond a thousand years would overflow the store's timestamps: refused.
    func testRetentionDaysAreBounded() {
        let json = """
        {"addresses": [{"address": "DVS@90000048472", "ownerId": "90000048472", "ownerKind": "institution", "accessPoint": "local",
                        "retentionDays": 1000000000000}]}
        """
        XCTAssertEqual(problems(json, .json).count, 1)
        XCTAssertTrue(problems(json, .json).first?.contains("retentionDays") ?? false, "\(problems(json, .json))")
        let csv = Self.header + "DVS@90000048472,90000048472,institution,,,365251,,,,,local,,,,\r\n"
        XCTAssertEqual(problems(csv, .csv).count, 1)
        XCTAssertTrue(problems(csv, .csv).first?.contains("must be a whole number from 1 to 365250, not \"365251\"") ?? false, "\(problems(csv, .csv))")
        let ok = Self.header + "DVS@90000048472,90000048472,institution,,,365250,,,,,local,,,,\r\n"
        XCTAssertEqual(try decode(ok, .csv).first?.limits.retentionDays, 365_250)
    }

    // MARK: Round trips and counts

    func testRoundTripsThroughBothFormats() throws {
        let entries = try AddressDirectory(try decode(sampleCSV)).entries
        for format in DirectoryFile.Format.allCases {
            let text = DirectoryFile.encode(entries, format: format)
            let back = try decode(text, format)
            XCTAssertEqual(back, entries, format.rawValue)
            XCTAssertEqual(DirectoryFile.encode(back, format: format), text, "\(format.rawValue): export is stable")
        }
        let csv = DirectoryFile.encode(entries, format: .csv)
        XCTAssertTrue(csv.hasPrefix(Self.header), "export writes every column")
        XCTAssertTrue(csv.contains("\"-----BEGIN CERTIFICATE-----\n"), "a PEM field is quoted")
    }

    func testImportCounts() throws {
        var directory = try AddressDirectory(try decode(sampleCSV))
        let entries = directory.entries
        XCTAssertEqual(directory.apply(entries, replace: false), ImportCounts(unchanged: 4))
        var changed = entries[0]
        changed.limits.retentionDays = 7
        let new = DirectoryEntry(address: try EAddress("_DEFAULT@50003000001"), owner: .init(id: "50003000001", kind: .company))
        XCTAssertEqual(directory.apply([changed, entries[1], new], replace: false), ImportCounts(added: 1, changed: 1, unchanged: 1))
        XCTAssertEqual(directory.count, 5)
        XCTAssertEqual(directory.apply([changed, new], replace: true), ImportCounts(unchanged: 2, removed: 3))
        XCTAssertEqual(directory.entries.map(\.address.canonical), ["INVOICES@40003032949", "_DEFAULT@50003000001"].sorted())
        XCTAssertEqual(ImportCounts(added: 1, changed: 2, unchanged: 3, removed: 4).description, "1 added, 2 changed, 3 unchanged, 4 removed")
        XCTAssertThrowsError(try AddressDirectory([new, new]))
    }

    func testTimes() throws {
        XCTAssertEqual(try DirectoryTime.parse("1970-01-01T00:00:00Z").timeIntervalSince1970, 0)
        XCTAssertEqual(try DirectoryTime.parse("2024-02-29T12:30:15+02:00").timeIntervalSince1970, 1_709_202_615)
        XCTAssertEqual(try DirectoryTime.parse("2024-02-29t10:30:15.5z").timeIntervalSince1970, 1_709_202_615.5)
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 1_709_202_615.5)), "2024-02-29T10:30:15.500Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: -1)), "1969-12-31T23:59:59Z")
        for bad in ["2023-02-29T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00.1234Z", "2024-01-01T00:00:00+2:00",
                    "2024-01-01 00:00:00Z", "2024-01-01T00:00:00Zx", "2024-01-01"] {
            XCTAssertThrowsError(try DirectoryTime.parse(bad), bad)
        }
    }

    func testColumnOrdinalsFollowAllCases() {
        XCTAssertEqual(DirectoryColumn.allCases.map(\.ordinal), Array(0..<DirectoryColumn.allCases.count))
    }

    func testCertificatePins() throws {
        let colons = (0..<32).map { _ in "0F" }.joined(separator: ":")
        XCTAssertEqual(try CertificatePin(text: "SHA256:" + colons), .fingerprint(fingerprint))
        XCTAssertThrowsError(try CertificatePin(text: "sha1:abcd"))
        XCTAssertThrowsError(try CertificatePin(text: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"))
        let pin = CertificatePin.certificate(Self.certificate)
        XCTAssertTrue(CertificatePin.fingerprint(pin.sha256Fingerprint).matches(Self.certificate))
        XCTAssertFalse(CertificatePin.fingerprint(fingerprint).matches(Self.certificate))
        XCTAssertThrowsError(try CertificatePin.items(in: "-----BEGIN CERTIFICATE-----\nAAAA")) {
            XCTAssertEqual(($0 as? CertificatePinError)?.reason, "PEM certificate 1 has no -----END CERTIFICATE----- line")
        }
    }
}
