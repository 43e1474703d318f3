import XCTest
@testable import EnvelopeXML

final class MIMEMediaTypeTests: XCTestCase {
    func testParsesTheAS4MultipartContentType() throws {
        let mt = try MediaType.parse(
            "Multipart/Related; TYPE=\"application/soap+xml\"; boundary=\"MIMEBoundary_4711\";\r\n"
                + "\tstart=\"<root.4711@ap-c2.example>\"; start-info=\"application/soap+xml\"; action=\"urn:x\"")
        XCTAssertEqual(mt.type, "multipart")
        XCTAssertEqual(mt.subtype, "related")
        XCTAssertEqual(mt.essence, "multipart/related")
        XCTAssertEqual(mt[parameter: "type"], "application/soap+xml")
        XCTAssertEqual(mt[parameter: "Boundary"], "MIMEBoundary_4711")
        XCTAssertEqual(mt.parameters["start"], "<root.4711@ap-c2.example>")
        XCTAssertEqual(mt.parameters["start-info"], "application/soap+xml")
        XCTAssertEqual(mt.parameters["action"], "urn:x")
        XCTAssertEqual(mt.parameters.count, 5)
    }

    func testParsesLenientForms() throws {
        // Unquoted values with tspecials, no space after ';', trailing ';', folding with LF only.
        let mt = try MediaType.parse("application/soap+xml;charset=UTF-8 ;\n action=urn:a/b ;")
        XCTAssertEqual(mt.essence, "application/soap+xml")
        XCTAssertEqual(mt[parameter: "charset"], "UTF-8")
        XCTAssertEqual(mt[parameter: "action"], "urn:a/b")
        let unquoted = try MediaType.parse("multipart/related; start=<a@b>; boundary=----=_Part_0_1.2")
        XCTAssertEqual(unquoted[parameter: "start"], "<a@b>")
        XCTAssertEqual(unquoted[parameter: "boundary"], "----=_Part_0_1.2")
        let escaped = try MediaType.parse(#"text/plain; name="a \"quoted\" \\ value""#)
        XCTAssertEqual(escaped[parameter: "name"], #"a "quoted" \ value"#)
        XCTAssertTrue(try MediaType.parse("TEXT/XML").hasEssence("text/xml"))
    }

    func testDescriptionRoundTrips() throws {
        let mt = MediaType(type: "Multipart", subtype: "Related",
                           parameters: ["Boundary": "a\"b", "type": "application/soap+xml"])
        XCTAssertEqual(mt.description, #"multipart/related; boundary="a\"b"; type="application/soap+xml""#)
        XCTAssertEqual(try MediaType.parse(mt.description), mt)
    }

    func testRefusesMalformedValues() {
        let cases: [(String, String)] = [
            ("", "expected type/subtype"),
            ("multipart", "expected type/subtype"),
            ("multipart/", "empty subtype"),
            ("text/xml; charset", "charset has no value"),
            ("text/xml; charset=", "charset has an empty value"),
            ("text/xml; charset=\"utf-8", "unterminated quoted value of charset"),
            ("text/xml junk", "unexpected character"),
            ("multipart/related; boundary=a; BOUNDARY=b", "boundary appears twice"),
        ]
        for (value, reason) in cases {
            MIMETestFixtures.assertEbmsError(.mimeInconsistency, reason) { try MediaType.parse(value) }
        }
    }

    func testContentIDNormalisation() {
        XCTAssertEqual(ContentID.normalize("<a@b>"), "a@b")
        XCTAssertEqual(ContentID.normalize("cid:a%40b"), "a@b")
        XCTAssertEqual(ContentID.normalize("CID:a@b"), "a@b")
        XCTAssertEqual(ContentID.normalize("  <cid:x.y-z_1@host>  "), "x.y-z_1@host")
        XCTAssertEqual(ContentID.normalize("ph-as4-0026b807"), "ph-as4-0026b807")
        XCTAssertEqual(ContentID.normalize("cid:caf%C3%A9"), "café")
        // Malformed or non-UTF-8 escapes are kept literally; '+' stays '+'.
        XCTAssertEqual(ContentID.normalize("cid:a%4"), "a%4")
        XCTAssertEqual(ContentID.normalize("cid:a%ZZb"), "a%ZZb")
        XCTAssertEqual(ContentID.normalize("cid:%FF"), "%FF")
        XCTAssertEqual(ContentID.normalize("cid:a+b"), "a+b")
    }

    func testGeneratedContentIDsUseTheSafeAlphabet() {
        let ids = (0..<50).map { _ in ContentID.generate() }
        XCTAssertEqual(Set(ids).count, 50)
        for id in ids {
            XCTAssertTrue(ContentID.isSafe(id), id)
            XCTAssertTrue(id.hasSuffix("@as4gw"))
            XCTAssertEqual(ContentID.normalize("cid:" + id), id)
        }
        XCTAssertFalse(ContentID.isSafe("a b"))
        XCTAssertFalse(ContentID.isSafe("a%40b"))
        XCTAssertFalse(ContentID.isSafe(""))
    }

    func testHeadersLookupIsCaseInsensitiveAndOrdered() {
        var h = MIMEHeaders(["Content-Id": "<x@y>", "X-A": "1", "x-a": "2"])
        h.append("Content-Type", "application/gzip")
        XCTAssertEqual(h["content-id"], "<x@y>")
        XCTAssertEqual(h["CONTENT-TYPE"], "application/gzip")
        XCTAssertEqual(h.values(for: "X-A"), ["1", "2"])
        XCTAssertNil(h["Content-Length"])
        XCTAssertEqual(h.map(\.name), ["Content-Id", "X-A", "x-a", "Content-Type"])
        let part = MIMEPart(headers: h, body: .bytes([]))
        XCTAssertEqual(part.contentID, "x@y")
        XCTAssertEqual(part.contentType?.essence, "application/gzip")
        XCTAssertNil(part.contentTransferEncoding)
    }
}
