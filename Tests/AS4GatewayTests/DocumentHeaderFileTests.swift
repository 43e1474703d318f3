@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// The files a document header lists, judged before the receipt: their names by the rule a
/// submission's names follow, their charsets against the payloads' `CharacterSet`; and the media
/// type the intake keeps from both.
final class DocumentHeaderFileTests: XCTestCase {
    static let bytes = Array("Lēmums".utf8)
    static var sha256: String { (try? InboundProcessor.hex(Digest.sha256(bytes))) ?? "" }

    /// The header part and one file part, the file named `name` and typed `mimeType` in the header.
    func parts(name: String, mimeType: String = "text/plain", characterSet: String? = nil) throws -> [MessagePart] {
        let header = EAddressMessages.DocumentHeader(
            documentId: "d", sender: "DVS@90000048472", recipient: "_DEFAULT@40003032949",
            metadata: #"{"recipients": ["_DEFAULT@40003032949"], "sender": "DVS@90000048472", "subject": "Lēmums"}"#,
            files: [.init(name: name, mimeType: mimeType, size: Int64(Self.bytes.count), sha256: Self.sha256)])
        let json = try EAddressMessages.encode(header)
        return [MessagePart(contentId: "h", mimeType: "application/json", file: StoredFile(path: "", size: Int64(json.count), sha256: ""), bytes: json),
                MessagePart(contentId: "f", mimeType: "text/plain", file: StoredFile(path: "", size: Int64(Self.bytes.count), sha256: Self.sha256),
                            bytes: Data(Self.bytes), properties: characterSet.map { [MessageProperty(EbmsConstants.characterSet, $0)] } ?? [])]
    }

    func problem(_ parts: [MessagePart]) -> DocumentHeaderProblem? {
        do {
            _ = try DocumentHeaderCheck.header(of: parts, carrier: .init { _ in nil })
            return nil
        } catch {
            return error as? DocumentHeaderProblem
        }
    }

    func testAFileNameASubmissionCouldNotHaveIsRefusedWithItsRule() throws {
        let refused: [(String, String)] = [
            ("../x", "the file name may not contain / or \\"),
            ("reports/2026.pdf", "the file name may not contain / or \\"),
            ("/etc/passwd", "the file name may not contain / or \\"),
            ("..\\..\\boot.ini", "the file name may not contain / or \\"),
            ("..", "the file name may not be . or .."),
            (".", "the file name may not be . or .."),
            ("", "the file name is empty"),
            (String(repeating: "ā", count: 128), "the file name is longer than 255 bytes of UTF-8"),
        ]
        for (name, why) in refused {
            let p = problem(try parts(name: name))
            XCTAssertEqual(p, .fileName(position: 1, of: 1, why: why), name)
            XCTAssertEqual(p?.ebmsError.code, .other, name)  // EBMS:0004
            XCTAssertEqual(p?.description, "file 1 of 1: the document header's file name is refused, as in a submission here: \(why)")
        }
        for name in ["lēmums.pdf", "..hidden", "a..b.txt", ".profile", String(repeating: "a", count: 255), "Līgums (1).docx"] {
            XCTAssertNil(problem(try parts(name: name)), name)
        }
    }

    func testACharacterSetIsACharsetNameAndAgreesWithTheHeader() throws {
        XCTAssertNil(problem(try parts(name: "a.txt", characterSet: "windows-1257")))
        XCTAssertNil(problem(try parts(name: "a.txt", mimeType: "text/plain; charset=UTF-8", characterSet: "utf-8")), "compared in any case")
        XCTAssertNil(problem(try parts(name: "a.txt", mimeType: "text/plain; charset=utf-8")), "no property: nothing to compare")

        let differs = problem(try parts(name: "a.txt", mimeType: "text/plain; charset=utf-8", characterSet: "windows-1257"))
        XCTAssertEqual(differs, .charsetDiffers(position: 1, of: 1, contentId: "f", header: "utf-8", property: "windows-1257"))
        XCTAssertEqual(differs?.ebmsError.code, .valueInconsistent)  // EBMS:0003
        XCTAssertEqual(differs?.description,
                       "file 1 of 1 (payload cid:f): the document header gives its charset as utf-8, but eb:PartProperties CharacterSet is windows-1257")
        for bad in ["utf 8", "", "a\"b", "utf-8; x=y", String(repeating: "a", count: 41)] {
            let p = problem(try parts(name: "a.txt", characterSet: bad))
            guard case .characterSetInvalid(1, 1, "f", let why)? = p else { return XCTFail("\(bad.debugDescription): \(String(describing: p))") }
            XCTAssertTrue(why.hasPrefix("charset must be a charset name"), why)
            XCTAssertEqual(p?.ebmsError.code, .other, bad)
            // The rule, not the value: the sender's text may be anything.
            XCTAssertEqual(p?.description, "file 1 of 1 (payload cid:f): eb:PartProperties CharacterSet is refused: " + why)
        }
    }

    func testTheIntakeKeepsTheCharsetOfTheCharacterSetWhenTheHeaderNamesNone() throws {
        func kept(_ mimeType: String, _ characterSet: String?) throws -> String {
            let p = try parts(name: "a.txt", mimeType: mimeType, characterSet: characterSet)
            let header = try DocumentHeaderCheck.header(of: p, carrier: .init { _ in nil })
            return DocumentHeaderCheck.mediaType(header.files[0], of: p[1])
        }
        XCTAssertEqual(try kept("text/plain", "Windows-1257"), "text/plain; charset=windows-1257")
        XCTAssertEqual(try kept("Text/CSV; header=present", "ISO-8859-13"), "text/csv; charset=iso-8859-13")
        XCTAssertEqual(try kept("text/plain; charset=utf-8", "UTF-8"), "text/plain; charset=utf-8")
        XCTAssertEqual(try kept("text/plain", nil), "text/plain", "nothing to add: the header's as it was")
        XCTAssertEqual(try kept("application/pdf", nil), "application/pdf")
        XCTAssertEqual(FileMediaType.served(try kept("text/plain", "windows-1257")), "text/plain; charset=windows-1257")
        // One received before the check, with a CharacterSet that is no charset name: left out.
        let info = EAddressMessages.FileInfo(name: "a.txt", mimeType: "text/plain", size: 1, sha256: "00")
        let part = MessagePart(contentId: "f", mimeType: "text/plain", file: StoredFile(path: "", size: 1, sha256: "00"),
                               properties: [MessageProperty(EbmsConstants.characterSet, "utf 8\r\nX: y")])
        XCTAssertEqual(DocumentHeaderCheck.mediaType(info, of: part), "text/plain")
    }
}
