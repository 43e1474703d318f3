import XCTest
@testable import EnvelopeXML

/// PartInfo ↔ MIME part binding and compression declarations, through the same path as the wire.
final class AS4MessageBindingTests: XCTestCase {
    func multipart(_ user: UserMessage, parts: [(String, [UInt8])]) throws -> [UInt8] {
        let envelope = EnvelopeBuilder.envelope(Messaging(user))
        let writer = try MultipartWriter(boundary: "MIMEBoundary_test", rootContentID: "root@as4gw.test")
        var sink = MemorySink()
        let ct = try writer.write(envelope: envelope,
                                  attachments: parts.map { MultipartWriter.Attachment(contentID: $0.0, contentType: "application/xml", body: .bytes($0.1)) },
                                  to: &sink)
        return Array("Content-Type: \(ct)\r\n\r\n".utf8) + sink.bytes
    }

    func assertRefused(_ bytes: [UInt8], _ code: EbmsError.Code, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try { () throws -> Void in
            let m = try AS4Message.read(try MessageInput.load(bytes: bytes))
            try m.verifyCompressedParts()
        }(), file: file, line: line) { error in
            let e = error as? EbmsError
            XCTAssertEqual(e?.code, code, "\(error)", file: file, line: line)
            XCTAssertTrue(e?.reason.contains(text) ?? false, "\(error)", file: file, line: line)
        }
    }

    func testBoundMessageReads() throws {
        let user = EnvelopeRoundTripTests.sampleUser(attachments: 2)
        let bytes = try multipart(user, parts: [("part0@as4gw.test", Array("<a/>".utf8)), ("part1@as4gw.test", Array("<b/>".utf8))])
        let m = try AS4Message.read(try MessageInput.load(bytes: bytes))
        XCTAssertEqual(m.messaging.userMessage, user)
        XCTAssertEqual(try m.attachment(contentID: "part1@as4gw.test")?.body.readAll(), Array("<b/>".utf8))
        XCTAssertTrue(m.profileFindings.isEmpty, "\(m.profileFindings)")
    }

    /// A PartInfo's `cid:` reference and a MIME part's Content-ID header are decoded by one rule,
    /// so an escape that is not UTF-8 names the same part on both sides instead of turning into
    /// U+FFFD on one of them.
    func testPartReferenceAndContentIDHeaderDecodeAlike() {
        for (reference, header) in [("cid:a%40b", "<a@b>"), ("cid:x%FFy@z", "<x%FFy@z>"), ("cid:%zz@q", "<%zz@q>"), ("cid:p%C3%A4@q", "<pä@q>")] {
            XCTAssertEqual(PartInfo(href: reference).contentID, ContentID.normalize(header), reference)
        }
        XCTAssertEqual(PartInfo(href: "cid:x%FFy@z").contentID, "x%FFy@z")
        XCTAssertNil(PartInfo(href: "#body").contentID)
    }

    /// Two PartInfo that spell one Content-ID differently (a percent-escape) name one MIME part:
    /// refused as two references to it, not delivered as two payloads (one perhaps inflated and
    /// the other not, as their PartProperties say).
    func testTwoSpellingsOfOnePartAreOneReference() throws {
        var user = EnvelopeRoundTripTests.sampleUser(attachments: 1)
        var again = user.payloads[0]
        again.href = "cid:part0%40as4gw.test"
        user.payloads.append(again)
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", Array("<a/>".utf8))]), .invalidHeader,
                      "two eb:PartInfo elements reference cid:part0%40as4gw.test")
        XCTAssertThrowsError(try EnvelopeParser.parse(EnvelopeBuilder.envelope(Messaging(user))))
    }

    func testPartInfoNamingNoPart() throws {
        let user = EnvelopeRoundTripTests.sampleUser(attachments: 2)
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", [1])]), .mimeInconsistency, "names no MIME part")
    }

    func testPartWithoutPartInfo() throws {
        let user = EnvelopeRoundTripTests.sampleUser(attachments: 1)
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", [1]), ("stray@as4gw.test", [2])]),
                      .mimeInconsistency, "not referenced by any eb:PartInfo")
    }

    func testCompressionDeclarations() throws {
        var user = EnvelopeRoundTripTests.sampleUser(attachments: 1, compressed: true)
        let gz = try Gzip.compress(Array("<doc/>".utf8))
        XCTAssertNoThrow(try AS4Message.read(try MessageInput.load(bytes: try multipart(user, parts: [("part0@as4gw.test", gz)]))).verifyCompressedParts())
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", Array("not gzip".utf8))]), .decompressionFailure, "not gzip")
        user.payloads[0].properties.removeAll { $0.name == EbmsConstants.mimeType }
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", gz)]), .decompressionFailure, "declares no MimeType")
        user.payloads[0].properties = [Property("MimeType", "application/xml"), Property("CompressionType", "application/x-rar")]
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", gz)]), .decompressionFailure, "is not application/gzip")
    }

    /// AS4's part properties are read whatever case the sender wrote them in (phase4 reads them
    /// so): a `compressiontype` is still a compressed part, checked and later inflated, never a
    /// document handed over compressed. One of them given twice is refused.
    func testReservedPartPropertiesAreReadInAnyCase() throws {
        var user = EnvelopeRoundTripTests.sampleUser(attachments: 1, compressed: true)
        user.payloads[0].properties = [Property("mimetype", "application/xml"), Property("COMPRESSIONTYPE", "application/gzip"),
                                       Property("Characterset", "utf-8"), Property("note", "kept as given")]
        let gz = try Gzip.compress(Array("<doc/>".utf8))
        let read = try AS4Message.read(try MessageInput.load(bytes: try multipart(user, parts: [("part0@as4gw.test", gz)])))
        let part = try XCTUnwrap(read.messaging.userMessage?.payloads.first)
        XCTAssertTrue(part.isCompressed)
        XCTAssertEqual(part.mimeType, "application/xml")
        XCTAssertEqual(part.properties.map(\.name), ["MimeType", "CompressionType", "CharacterSet", "note"])
        XCTAssertNoThrow(try read.verifyCompressedParts())
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", Array("not gzip".utf8))]), .decompressionFailure, "not gzip")

        user.payloads[0].properties.append(Property("CompressionType", "application/gzip"))
        assertRefused(try multipart(user, parts: [("part0@as4gw.test", gz)]), .invalidHeader, "names CompressionType more than once")
    }

    func testGzipBombInAPartIsRefused() throws {
        let user = EnvelopeRoundTripTests.sampleUser(attachments: 1, compressed: true)
        let bomb = try Gzip.compress([UInt8](repeating: 0, count: 8 << 20))
        let m = try AS4Message.read(try MessageInput.load(bytes: try multipart(user, parts: [("part0@as4gw.test", bomb)])))
        XCTAssertThrowsError(try m.verifyCompressedParts(limits: GzipLimits(maxOutputBytes: 1 << 20))) { error in
            XCTAssertEqual((error as? EbmsError)?.code, .decompressionFailure)
        }
    }

    func testEnvelopeOnlyCaptureIsAFinding() throws {
        let envelope = EnvelopeBuilder.envelope(Messaging(EnvelopeRoundTripTests.sampleUser(attachments: 1)))
        let m = try AS4Message.read(try MessageInput.load(bytes: envelope))
        XCTAssertEqual(m.profileFindings.map(\.code), [.mimeInconsistency])
    }
}
