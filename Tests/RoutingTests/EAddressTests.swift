import XCTest
@testable import Routing

/// E-address parsing: the canonical spelling of every form, and a precise refusal of everything
/// that is not an address.
final class EAddressTests: XCTestCase {
    private func canonical(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            return try EAddress(text).canonical
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    private func reason(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let address = try EAddress(text)
            XCTFail("\"\(text)\" parsed as \(address)", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.text, text, file: file, line: line)
            return error.reason
        }
    }

    func testDefaultMailboxAndAliasesOfALegalPerson() throws {
        XCTAssertEqual(canonical("_DEFAULT@90000048472"), "_DEFAULT@90000048472")
        XCTAssertEqual(canonical("_default@90000048472"), "_DEFAULT@90000048472")
        XCTAssertEqual(canonical("_Default@40003032949"), "_DEFAULT@40003032949")
        XCTAssertEqual(canonical("invoices@40003032949"), "INVOICES@40003032949")
        XCTAssertEqual(canonical("Dvs.Rekini-2_a@40003032949"), "DVS.REKINI-2_A@40003032949")
        XCTAssertEqual(canonical("7X@50003000001"), "7X@50003000001")
        let alias = try EAddress("invoices@40003032949")
        XCTAssertEqual(alias.form, .alias(name: "INVOICES", registrationNumber: "40003032949"))
        XCTAssertEqual(alias, try EAddress("INVOICES@40003032949"), "spellings of one address are equal")
        XCTAssertEqual(Set([alias, try EAddress("Invoices@40003032949")]).count, 1)
        XCTAssertEqual(alias.latvianIdentifier, "40003032949")
        XCTAssertEqual(canonical(String(repeating: "A", count: 64) + "@40003032949")?.count, 64 + 12)
    }

    func testPrivateAddressesWithOldAndNewPersonalCodes() throws {
        XCTAssertEqual(canonical("_PRIVATE@161175-19997"), "_PRIVATE@16117519997", "hyphen dropped")
        XCTAssertEqual(canonical("_private@16117519997"), "_PRIVATE@16117519997")
        XCTAssertEqual(canonical("_PRIVATE@010190-12349"), "_PRIVATE@01019012349")
        XCTAssertEqual(canonical("_PRIVATE@290200-21239"), "_PRIVATE@29020021239", "29 February 2000 (leap year)")
        XCTAssertEqual(canonical("_PRIVATE@311299-10008"), "_PRIVATE@31129910008")
        XCTAssertEqual(canonical("_PRIVATE@150706-20005"), "_PRIVATE@15070620005", "born 2006: century digit 2")
        XCTAssertEqual(canonical("_PRIVATE@32123456789"), "_PRIVATE@32123456789", "new format: no date, no check digit")
        XCTAssertEqual(canonical("_PRIVATE@321234-56789"), "_PRIVATE@32123456789")
        XCTAssertEqual(try EAddress("_PRIVATE@161175-19997"), try EAddress("_PRIVATE@16117519997"))
        XCTAssertEqual(try EAddress("_PRIVATE@161175-19997").form, .privatePerson(personalCode: "16117519997"))
    }

    func testBadPersonalCodes() {
        XCTAssertEqual(reason("_PRIVATE@010190-12340"), "the personal code 01019012340 has check digit 0, expected 9 (mistyped digit?)")
        XCTAssertTrue(reason("_PRIVATE@16117519998").contains("check digit 8, expected 7"))
        XCTAssertTrue(reason("_PRIVATE@01019010010").contains("cannot exist"), "remainder 10 is never issued")
        XCTAssertTrue(reason("_PRIVATE@290200-11230").contains("29.02.1900 is no date"), "1900 was no leap year")
        XCTAssertTrue(reason("_PRIVATE@300299-12345").contains("30.02.1999 is no date"))
        XCTAssertTrue(reason("_PRIVATE@011399-12345").contains("01.13.1999 is no date"))
        XCTAssertTrue(reason("_PRIVATE@000199-12345").contains("is no date"))
        XCTAssertTrue(reason("_PRIVATE@010190-32345").contains("century digit 3"))
        for bad in ["_PRIVATE@0101901234", "_PRIVATE@010190123490", "_PRIVATE@0101-9012349", "_PRIVATE@010190_12349",
                    "_PRIVATE@01019O12349", "_PRIVATE@", "_PRIVATE@010190--12349"] {
            XCTAssertTrue(reason(bad).contains("must be 11 digits, optionally with a hyphen after the sixth"), bad)
        }
        XCTAssertTrue(reason("_PRIVATE@０１０１９０１２３４９").contains("printable ASCII"), "fullwidth digits")
    }

    func testBadRegistrationNumbersAndAliases() {
        XCTAssertEqual(reason("_DEFAULT@4000303294"), "the registration number must be 11 digits, not \"4000303294\"")
        XCTAssertTrue(reason("_DEFAULT@400030329490").contains("11 digits"))
        XCTAssertTrue(reason("_DEFAULT@4000303294X").contains("11 digits"))
        XCTAssertTrue(reason("_DEFAULT@16117519997").contains("starts like a personal code"), "a person has no _DEFAULT")
        XCTAssertTrue(reason("INVOICES@32123456789").contains("starts like a personal code"))
        XCTAssertTrue(reason("_ADMIN@40003032949").contains("reserved"))
        XCTAssertTrue(reason("-X@40003032949").contains("starts with a letter or digit"))
        XCTAssertTrue(reason(".X@40003032949").contains("starts with a letter or digit"))
        XCTAssertTrue(reason("a+b@40003032949").contains("found '+'"))
        XCTAssertTrue(reason("rēķini@40003032949").contains("printable ASCII"))
        XCTAssertTrue(reason(String(repeating: "A", count: 65) + "@40003032949").contains("at most 64"))
        XCTAssertTrue(reason("@40003032949").contains("empty"))
        XCTAssertTrue(reason("a@b@40003032949").contains("one @"))
        XCTAssertTrue(reason("40003032949").contains("NAME@NUMBER"))
        XCTAssertTrue(reason(" _DEFAULT@40003032949").contains("without spaces"), "no silent trimming")
        XCTAssertTrue(reason("_DEFAULT@40003032949\n").contains("without spaces"))
        XCTAssertEqual(reason(""), "an e-address must not be empty")
    }

    func testParticipantsOfOtherNetworks() throws {
        XCTAssertEqual(canonical("iso6523-actorid-upis::0190:NL123"), "iso6523-actorid-upis::0190:nl123")
        XCTAssertEqual(canonical("ISO6523-ActorID-UPIS::0088:5798000000001"), "iso6523-actorid-upis::0088:5798000000001")
        XCTAssertEqual(canonical("urn.example::CaseKept"), "urn.example::CaseKept", "only the Peppol scheme is case-insensitive")
        XCTAssertEqual(try EAddress("iso6523-actorid-upis::0190:NL123").form, .participant(scheme: "iso6523-actorid-upis", value: "0190:nl123"))
        XCTAssertNil(try EAddress("urn.example::x").latvianIdentifier)
        XCTAssertTrue(reason("iso6523-actorid-upis::190:x").contains("four-digit ICD"))
        XCTAssertTrue(reason("iso6523-actorid-upis::0190:").contains("four-digit ICD"))
        XCTAssertTrue(reason("iso6523-actorid-upis::").contains("empty"))
        XCTAssertTrue(reason("::0190:x").contains("scheme"))
        XCTAssertTrue(reason("a/b::x").contains("scheme"))
        XCTAssertTrue(reason("s::" + String(repeating: "x", count: 300)).contains("at most 256"))
    }

    func testOrderingIsByCanonicalSpelling() throws {
        let sorted = try ["_PRIVATE@16117519997", "invoices@40003032949", "_DEFAULT@90000048472"].map(EAddress.init).sorted()
        XCTAssertEqual(sorted.map(\.canonical), ["INVOICES@40003032949", "_DEFAULT@90000048472", "_PRIVATE@16117519997"])
    }
}
