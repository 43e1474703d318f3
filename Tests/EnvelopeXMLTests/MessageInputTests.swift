import Foundation
import XCTest
@testable import EnvelopeXML

/// Real captures from other AS4 implementations (shared interop vectors), in every form they come.
/// Expected counts, ids and sizes were read from the files themselves.
final class MessageInputTests: XCTestCase {
    private typealias F = MIMETestFixtures

    /// Loads a vector from its file and from memory; both must agree on everything but storage.
    private func loadBoth(_ vector: String) throws -> RawMessage {
        let fromFile = try MessageInput.load(path: F.vector(vector))
        let fromMemory = try MessageInput.load(bytes: try F.vectorBytes(vector))
        XCTAssertEqual(fromFile.envelope, fromMemory.envelope, vector)
        XCTAssertEqual(fromFile.contentType, fromMemory.contentType, vector)
        XCTAssertEqual(fromFile.headers, fromMemory.headers, vector)
        XCTAssertEqual(fromFile.isMultipart, fromMemory.isMultipart, vector)
        XCTAssertEqual(fromFile.attachments.map(\.headers), fromMemory.attachments.map(\.headers), vector)
        XCTAssertEqual(try fromFile.attachments.map { try $0.body.readAll() },
                       try fromMemory.attachments.map { try $0.body.readAll() }, vector)
        for a in fromFile.attachments where a.contentTransferEncoding != "base64" { // decoded ones are copies
            guard case .file(let path, _, _) = a.body else { XCTFail("\(vector): expected file ranges"); continue }
            XCTAssertEqual(path, F.vector(vector))
        }
        return fromFile
    }

    private func assertEnvelope(_ m: RawMessage, size: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(m.envelope.count, size, file: file, line: line)
        XCTAssertEqual(Array(m.envelope.prefix(5)), Array("<?xml".utf8), file: file, line: line)
        XCTAssertEqual(Array(m.envelope.suffix(9)), Array("Envelope>".utf8), file: file, line: line)
    }

    /// AS4.NET capture: no HTTP headers, boundary from the first line; root + 2 gzip attachments.
    func testHolodeckSignedMessageWithBoundaryFromFirstLine() throws {
        let m = try loadBoth("as4net/signed-mime/signed_holodeck_message.as4")
        XCTAssertTrue(m.isMultipart)
        XCTAssertEqual(m.headers.count, 0)
        XCTAssertEqual(m.contentType?.essence, "multipart/related")
        XCTAssertEqual(m.contentType?[parameter: "boundary"], "MIMEBoundary_bcb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f")
        assertEnvelope(m, size: 5393)
        XCTAssertEqual(m.attachments.map(\.contentID), [
            "cdcc838c-96ed-414a-b127-0937f5cd654-341439240@CLT-FGHEYSELS.ad.codit.eu",
            "cdcc838c-96ed-414a-b127-0937f5cd654-445037483@CLT-FGHEYSELS.ad.codit.eu",
        ])
        XCTAssertEqual(m.attachments.map(\.body.count), [296_385, 164])
        XCTAssertEqual(m.attachments.map(\.contentTransferEncoding), ["binary", "binary"])
    }

    /// phase4 dump: MIME entity headers (Date, Message-Id, MIME-Version, Content-Type), no root
    /// Content-ID and no `start` (root = first part).
    func testPhase4DumpWithHeaders() throws {
        let m = try loadBoth("phase4/signed-encrypted-mime/dump-raw.as4out")
        XCTAssertEqual(m.headers.map(\.name), ["Date", "Message-Id", "MIME-Version", "Content-Type"])
        XCTAssertEqual(m.contentType?[parameter: "boundary"], "----=_Part_0_1950117092.1769701143986")
        XCTAssertEqual(m.contentType?[parameter: "type"], "application/soap+xml")
        assertEnvelope(m, size: 11_863)
        XCTAssertEqual(m.attachments.count, 1)
        XCTAssertEqual(m.attachments[0].contentID, "phase4-att-ff0f8ad5-f982-48ba-b8e2-26997600f496@cid")
        XCTAssertEqual(m.attachments[0].contentType?.essence, "application/octet-stream")
        XCTAssertEqual(m.attachments[0].headers["Content-Description"], "Attachment")
        XCTAssertEqual(m.attachments[0].body.count, 2263)
    }

    /// phase4 MIME entity with LF line ends, a Content-Type folded over three lines, an unbracketed
    /// Content-ID and a base64 attachment (which is valid gzip of 1300 bytes).
    func testPhase4WrongCompressionEntity() throws {
        let m = try loadBoth("phase4/compression-error/WrongCompression.mime")
        XCTAssertEqual(m.headers["Message-ID"], "<745962066.1.1482314477307@PC65063.brzg.local>")
        XCTAssertEqual(m.contentType?[parameter: "boundary"], "----=_Part_0_581318631.1482314477236")
        assertEnvelope(m, size: 1759)
        XCTAssertEqual(m.attachments.count, 1)
        let att = m.attachments[0]
        XCTAssertEqual(att.contentID, "ph-as4-0026b807-e599-40e2-af67-22f2e6fe4ddd")
        XCTAssertEqual(att.contentTransferEncoding, "base64")
        XCTAssertEqual(att.body.count, 721) // decoded
        let xml = try Gzip.decompress(try att.body.readAll())
        XCTAssertEqual(xml.count, 1300)
        XCTAssertEqual(Array(xml.prefix(4)), Array("<!--".utf8))
    }

    /// AS4.NET capture starting with a blank line; `Content-Id` spelling, no root Content-ID.
    func testAS4NetEncryptedCompressedMessage() throws {
        let m = try loadBoth("as4net/encrypted-mime/as4-encrypted-compressed-message.as4")
        XCTAssertEqual(m.contentType?[parameter: "boundary"], "=-6sJmyirLVoAPyUJUzCWk0w==")
        assertEnvelope(m, size: 5899)
        XCTAssertEqual(m.attachments.map(\.contentID), ["flower", "xmldoc"])
        XCTAssertEqual(m.attachments.map(\.body.count), [290_189, 114])
        XCTAssertEqual(m.attachments.map { $0.headers["Content-Disposition"] }, ["attachment", "attachment"])
    }

    /// AS4.NET capture with a UTF-8 BOM before the multipart body and LF line ends; root only.
    func testAS4NetMultihopMessageWithBOM() throws {
        XCTAssertEqual(Array(try F.vectorBytes("as4net/usermessage-unsigned/as4-multihop-usermessage.as4").prefix(3)),
                       [0xef, 0xbb, 0xbf])
        let m = try loadBoth("as4net/usermessage-unsigned/as4-multihop-usermessage.as4")
        XCTAssertTrue(m.isMultipart)
        XCTAssertEqual(m.contentType?[parameter: "boundary"], "=-AAB+iUI3phXyeG3w4aGnFA==")
        assertEnvelope(m, size: 1276)
        XCTAssertEqual(m.attachments, [])
    }

    func testPlainXML() throws {
        let vector = "phase4/usermessage-unsigned/UserMessage12.xml"
        let m = try loadBoth(vector)
        XCTAssertFalse(m.isMultipart)
        XCTAssertNil(m.contentType)
        XCTAssertEqual(m.envelope, try F.vectorBytes(vector))
        XCTAssertEqual(m.envelope.count, 2456)
    }

    /// Response dumps whose headers claim `chunked` over an already de-chunked body.
    func testResponseDumpsClaimingChunkedButDechunked() throws {
        let g = try loadBoth("phase4/signed-receipt/governikus.as4in")
        XCTAssertEqual(g.headers["Transfer-Encoding"], "chunked")
        XCTAssertEqual(g.contentType?.essence, "application/soap+xml")
        XCTAssertEqual(g.envelope.count, 7474 - 211)
        XCTAssertEqual(g.envelope, Array(try F.vectorBytes("phase4/signed-receipt/governikus.as4in").dropFirst(211)))
        let h = try loadBoth("phase4/signed-receipt/helger.as4in")
        XCTAssertEqual(h.headers.values(for: "X-Frame-Options"), ["DENY", "SAMEORIGIN"])
        XCTAssertEqual(h.envelope.count, 7399 - 627)
    }

    func testHTTPRequestDumpWithStartLine() throws {
        let multipart = try F.vectorBytes("as4net/signed-mime/signed_holodeck_message.as4")
        let dump = Array(("POST /as4 HTTP/1.1\r\nHost: ap.example\r\nContent-Type: multipart/related;\r\n"
            + " boundary=\"MIMEBoundary_bcb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f\"; type=\"application/soap+xml\"\r\n"
            + "Content-Length: \(multipart.count)\r\n\r\n").utf8) + multipart
        let m = try MessageInput.load(bytes: dump)
        XCTAssertEqual(m.headers["host"], "ap.example")
        XCTAssertEqual(m.envelope.count, 5393)
        XCTAssertEqual(m.attachments.map(\.body.count), [296_385, 164])

        let response = Array("HTTP/1.1 200 OK\nContent-Type: application/soap+xml\n\n\u{FEFF}  <e/>".utf8)
        let r = try MessageInput.load(bytes: response)
        XCTAssertEqual(r.envelope, Array("<e/>".utf8), "BOM and leading whitespace before the XML are skipped")
        XCTAssertEqual(r.contentType?.essence, "application/soap+xml")
    }

    func testRealChunkFramingIsUndone() throws {
        let dir = try MIMETemporaryDirectory()
        let xml = try F.vectorBytes("phase4/usermessage-unsigned/UserMessage12.xml")
        var chunked = Array("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var i = 0
        while i < xml.count {
            let n = min(1000, xml.count - i)
            chunked += Array("\(String(n, radix: 16));ext=1\r\n".utf8) + xml[i..<(i + n)] + [0x0d, 0x0a]
            i += n
        }
        chunked += Array("0\r\nX-Trailer: t\r\n\r\n".utf8)
        XCTAssertEqual(try MessageInput.load(bytes: chunked).envelope, xml)
        let path = try dir.write("chunked.http", chunked)
        XCTAssertEqual(try MessageInput.load(path: path, spoolDirectory: dir.path).envelope, xml)
        XCTAssertEqual(try MessageInput.load(path: path).envelope, xml)

        var broken = chunked
        broken.removeLast(40)
        F.assertEbmsError(.mimeInconsistency, "invalid HTTP chunked framing") { try MessageInput.load(bytes: broken) }
        // Only the input: the de-chunked load's spool copy, which no attachment points into (bare
        // XML), is removed once the envelope is read.
        XCTAssertEqual(try dir.fileCount(), 1)
        let brokenPath = try dir.write("broken.http", broken)
        F.assertEbmsError(.mimeInconsistency, "invalid HTTP chunked framing: chunk runs past the end of input") {
            try MessageInput.load(path: brokenPath, spoolDirectory: dir.path)
        }
        XCTAssertEqual(try dir.fileCount(), 2, "a failed de-chunk must not leave a spool file behind")
    }

    func testARepeatedContentTypeInTheMessageHeadersIsRefused() {
        let dump = "POST /as4 HTTP/1.1\r\nContent-Type: application/soap+xml\r\nContent-Type: multipart/related; boundary=b\r\n\r\n<e/>"
        F.assertEbmsError(.mimeInconsistency, "message headers: the Content-Type header appears 2 times") {
            try MessageInput.load(bytes: Array(dump.utf8))
        }
    }

    func testExplicitContentTypeOverridesDetection() throws {
        let bytes = try F.vectorBytes("as4net/encrypted-mime/as4-encrypted-compressed-message.as4")
        let m = try MessageInput.load(bytes: bytes, contentType: "multipart/related; boundary=\"=-6sJmyirLVoAPyUJUzCWk0w==\"; type=\"application/soap+xml\"")
        XCTAssertEqual(m.attachments.count, 2)
        XCTAssertEqual(m.contentType?[parameter: "type"], "application/soap+xml")
        F.assertEbmsError(.mimeInconsistency, "boundary delimiter \"--nope\" not found") {
            try MessageInput.load(bytes: bytes, contentType: "multipart/related; boundary=nope")
        }
        // Text that would be detected as headers is taken as the body when the type is given.
        let xml = Array("<e/>".utf8)
        XCTAssertEqual(try MessageInput.load(bytes: xml, contentType: "text/xml").envelope, xml)
    }

    func testUnrecognisedOrUnsupportedInput() {
        F.assertEbmsError(.mimeInconsistency, "unrecognised message format") {
            try MessageInput.load(bytes: Array("just some text\n".utf8))
        }
        F.assertEbmsError(.mimeInconsistency, "unrecognised message format") { try MessageInput.load(bytes: []) }
        F.assertEbmsError(.mimeInconsistency, "Content-Type text/html is neither multipart/related nor a SOAP envelope") {
            try MessageInput.load(bytes: Array("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html/>".utf8))
        }
        F.assertEbmsError(.mimeInconsistency, "HTTP Content-Encoding \"gzip\" is not supported") {
            try MessageInput.load(bytes: Array("Content-Type: text/xml\r\nContent-Encoding: gzip\r\n\r\n\u{1f}".utf8))
        }
        var limits = MIMELimits()
        limits.maxRootPartSize = 3
        F.assertEbmsError(.mimeInconsistency, "SOAP envelope of 4 bytes exceeds the limit of 3 bytes") {
            try MessageInput.load(bytes: Array("<e/>".utf8), limits: limits)
        }
    }

    func testStartLineRecognition() {
        for yes in ["HTTP/1.1 200 OK", "HTTP/1.0 500", "HTTP/2 202 Accepted", "POST /as4 HTTP/1.1", "GET * HTTP/1.0"] {
            XCTAssertTrue(MessageInput.isHTTPStartLine(Array(yes.utf8)), yes)
        }
        for no in ["Content-Type: text/xml", "HTTP/1.1 2000 OK", "post /as4 HTTP/1.1", "POST /as4", "<xml>", "HTTP/x 200"] {
            XCTAssertFalse(MessageInput.isHTTPStartLine(Array(no.utf8)), no)
        }
    }
}
