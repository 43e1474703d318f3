import EnvelopeXML
import Foundation
@testable import WSSecurity
import XCTest

/// An XML-typed payload that would be signed uncompressed must be XML: the check says why not
/// in the sender's terms, and the sealer refuses it as the payload's fault, never as the
/// signature failure (EBMS:0101) that canonicalising it would have raised.
final class XMLPayloadCheckTests: XCTestCase {
    /// High-entropy bytes (a gzip file, a scan) that CompressionChoice leaves uncompressed.
    static let random: [UInt8] = {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        return (0..<8192).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }()
    static let truncated = Array(String(String(repeating: "<line>compressible text</line>\n", count: 300).dropLast(7)).utf8)

    func testXMLThatWouldTravelUncompressedMustBeXML() throws {
        let notXML = try XCTUnwrap(try XMLPayloadCheck.problem(mimeType: "application/xml", body: .bytes(Self.random), compress: true))
        XCTAssertTrue(notXML.contains("labelled application/xml") && notXML.contains("cannot be read as XML"), notXML)
        XCTAssertFalse(notXML.contains("EBMS") || notXML.contains("FailedAuthentication"), notXML)
        XCTAssertNotNil(try XMLPayloadCheck.problem(mimeType: "text/xml; charset=utf-8", body: .bytes(Self.random), compress: true))
        XCTAssertNotNil(try XMLPayloadCheck.problem(mimeType: "application/invoice+xml", body: .bytes(Self.random), compress: true))
        // Compressible, so deflated and signed as gzip bytes: its content is not this gateway's to judge.
        XCTAssertNil(try XMLPayloadCheck.problem(mimeType: "application/xml", body: .bytes(Self.truncated), compress: true))
        // The agreement does not compress: the same file travels as it is and must be XML.
        XCTAssertNotNil(try XMLPayloadCheck.problem(mimeType: "application/xml", body: .bytes(Self.truncated), compress: false))
        XCTAssertNil(try XMLPayloadCheck.problem(mimeType: "application/xml", body: .bytes(Array("<a><b/></a>".utf8)), compress: false))
        XCTAssertNil(try XMLPayloadCheck.problem(mimeType: "application/octet-stream", body: .bytes(Self.random), compress: false),
                     "not labelled XML: digested as bytes")
    }

    func testXMLThatParsesButCannotBeCanonicalisedIsRefusedToo() throws {
        // Well-formed, but Canonical XML refuses a relative namespace URI: no signature could
        // cover it, so it is the payload's fault before anything is kept.
        let relative = Array(#"<inv:Invoice xmlns:inv="invoice/ns"><inv:ID>7</inv:ID></inv:Invoice>"#.utf8)
        let problem = try XCTUnwrap(try XMLPayloadCheck.problem(mimeType: "application/xml", body: .bytes(relative), compress: false))
        XCTAssertTrue(problem.contains("cannot be read as XML"), problem)
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: TestPKI.shared.rsa), compress: false)
        XCTAssertThrowsError(try sealer.seal(SealAndVerifyTests.user(), payloads: [
            Payload(contentID: "relative@test", mimeType: "application/xml", body: .bytes(relative))])) { error in
            XCTAssertEqual((error as? XMLPayloadError)?.index, 0, "\(error)")
        }
    }

    func testTheSealerRefusesItAsThePayloadsFault() throws {
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: TestPKI.shared.rsa), compress: true)
        let good = Payload(contentID: "good@test", mimeType: "application/xml", body: .bytes(Array("<a/>".utf8)))
        let bad = Payload(contentID: "bad@test", mimeType: "application/xml", body: .bytes(Self.random))
        XCTAssertThrowsError(try sealer.seal(SealAndVerifyTests.user(), payloads: [good, bad])) { error in
            let e = error as? XMLPayloadError
            XCTAssertEqual(e?.index, 1, "\(error)")
            XCTAssertNil(error as? EbmsError)
        }
        // Unsigned, nothing canonicalises it: it travels.
        XCTAssertNoThrow(try MessageSealer(signer: nil, compress: true).seal(SealAndVerifyTests.user(), payloads: [bad]))
        XCTAssertNoThrow(try sealer.seal(SealAndVerifyTests.user(), payloads: [good,
            Payload(contentID: "cut@test", mimeType: "application/xml", body: .bytes(Self.truncated))]))
    }
}
