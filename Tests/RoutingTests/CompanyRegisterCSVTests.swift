import Foundation
import XCTest
@testable import Routing

/// The company register's open data: both header spellings, standing by status and date, and
/// every problem with its line and column.
final class CompanyRegisterCSVTests: XCTestCase {
    func testTheRegistersOwnSemicolonFileIsReadByHeaderName() throws {
        let csv = #"""
        id;regcode;sepa;name;regtype;type;type_text;registered;terminated;closed;address
        1;40003032949;;"AS ""Latvenergo""";K;AS;Akciju sabiedrība;1991-10-08;;;Rīga
        2;40003000001;;SIA Beigas;K;SIA;Sabiedrība ar ierobežotu atbildību;1995-01-01;2020-03-15;L;Rīga
        3;50003000002;;SIA Nākotne;K;SIA;Sabiedrība;2000-01-01;2999-01-01 00:00:00;;Rīga

        """#
        let companies = try CompanyRegisterCSV.decode(Array(csv.utf8))
        XCTAssertEqual(companies.map(\.registrationNumber), ["40003032949", "40003000001", "50003000002"])
        XCTAssertEqual(companies[0].name, "AS \"Latvenergo\"")
        XCTAssertEqual(companies[0].legalForm, "AS")
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        XCTAssertEqual(companies[0].standing(at: now), .registered)
        XCTAssertEqual(companies[1].standing(at: now), .liquidated(status: "L", on: Date(timeIntervalSince1970: 1_584_230_400)))
        // A termination date still ahead: registered until then.
        XCTAssertEqual(companies[2].standing(at: now), .registered)
        XCTAssertEqual(companies[2].standing(at: Date(timeIntervalSince1970: 32_600_000_000)), .liquidated(status: "", on: companies[2].liquidatedOn))
    }

    func testPlainEnglishCommaHeadersWork() throws {
        let csv = "registrationNumber,name,legalForm,status,liquidationDate\r\n40003032949,Latvenergo,AS,active,\r\n40003000001,Beigas,SIA,liquidated,\r\n"
        let companies = try CompanyRegisterCSV.decode(Array(csv.utf8))
        XCTAssertEqual(companies.count, 2)
        XCTAssertEqual(companies[1].standing(at: Date()), .liquidated(status: "liquidated", on: nil), "the status alone liquidates")
    }

    func testEveryProblemIsReportedWithLineAndColumn() {
        let csv = "regcode;name;closed;terminated\n12345;A;;\n40003032949;;;\n40003032949;B;maybe;2020-13-01\n40003000001;C;;\n"
        XCTAssertThrowsError(try CompanyRegisterCSV.decode(Array(csv.utf8))) { error in
            let problems = (error as! CompanyRegisterCSV.Failure).problems.map(\.description)
            XCTAssertEqual(problems.count, 4, "\(problems)")
            XCTAssertTrue(problems[0].hasPrefix("2:1: the registration number must be 11 digits"), problems[0])
            XCTAssertTrue(problems[1].hasPrefix("3:13: the name is empty"), problems[1])
            XCTAssertTrue(problems[2].hasPrefix("4:15: status \"maybe\" is not known"), problems[2])
            XCTAssertTrue(problems[3].hasPrefix("4:21: liquidation date \"2020-13-01\""), problems[3])
        }
        XCTAssertThrowsError(try CompanyRegisterCSV.decode(Array("id;title\n1;x\n".utf8))) { error in
            XCTAssertTrue((error as! CompanyRegisterCSV.Failure).description.contains("1:1: header: no column \"regcode\""), "\(error)")
        }
        let duplicate = "regcode,name\n40003032949,A\n40003032949,B\n"
        XCTAssertThrowsError(try CompanyRegisterCSV.decode(Array(duplicate.utf8))) { error in
            XCTAssertEqual((error as! CompanyRegisterCSV.Failure).description, "3:1: registration number 40003032949 is already on line 2")
        }
    }
}
