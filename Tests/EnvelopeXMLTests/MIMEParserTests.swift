import Foundation
import XCTest
@testable import EnvelopeXML

final class MIMEParserTests: XCTestCase {
    private typealias F = MIMETestFixtures

    private static let holodeck = "as4net/signed-mime/signed_holodeck_message.as4"
    private static let holodeckType = "multipart/related; type=\"application/soap+xml\"; "
        + "boundary=\"MIMEBoundary_bcb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f\"; "
        + "start=\"<0.8cb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f@apache.org>\""

    /// A file-backed parse yields ranges of the input file (zero copy) with the real sizes.
    func testParsesAFileIntoZeroCopyRanges() throws {
        let path = F.vector(Self.holodeck)
        let mr = try MultipartRelated.parse(try PartBody.wholeFile(path), contentType: Self.holodeckType)
        XCTAssertEqual(mr.parts.count, 3)
        XCTAssertEqual(mr.rootIndex, 0)
        XCTAssertEqual(mr.root.contentID, "0.8cb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f@apache.org")
        XCTAssertEqual(mr.root.body.count, 5393)
        XCTAssertEqual(mr.attachments.map(\.contentID), [
            "cdcc838c-96ed-414a-b127-0937f5cd654-341439240@CLT-FGHEYSELS.ad.codit.eu",
            "cdcc838c-96ed-414a-b127-0937f5cd654-445037483@CLT-FGHEYSELS.ad.codit.eu",
        ])
        XCTAssertEqual(mr.attachments.map(\.body.count), [296_385, 164])
        XCTAssertEqual(mr.attachments.map { $0.contentType?.essence }, ["application/gzip", "application/gzip"])
        guard case .file(let p, let offset, _) = mr.attachments[0].body else { return XCTFail("expected a file range") }
        XCTAssertEqual(p, path)
        XCTAssertGreaterThan(offset, 5393)
        XCTAssertEqual(Array(try mr.attachments[0].body.readAll().prefix(3)), [0x1f, 0x8b, 0x08])
        XCTAssertEqual(Array(try mr.root.body.readAll().suffix(4)), Array("ope>".utf8))

        // The same bytes parsed from memory give the same part contents.
        let inMemory = try MultipartRelated.parse(.bytes(try F.vectorBytes(Self.holodeck)), contentType: Self.holodeckType)
        XCTAssertEqual(inMemory.parts.count, 3)
        for (a, b) in zip(mr.parts, inMemory.parts) {
            XCTAssertEqual(a.headers, b.headers)
            XCTAssertEqual(try a.body.readAll(), try b.body.readAll())
            if case .file = b.body { XCTFail("memory input must give .bytes bodies") }
        }
    }

    func testTinyWindowsFindDelimitersAcrossWindowEdges() throws {
        // Small windows force delimiters and header lines to straddle refills; payloads are
        // salted with near-delimiters that must stay content. Every window size must agree.
        let dir = try MIMETemporaryDirectory()
        let decoys = ["\n--b", "\r\n--b", "\n--bX", "\n--bb-X", "\n--bb X", "--bb", "\r\n--b\r\n"].map { Array($0.utf8) }
        for seed in 1...6 as ClosedRange<UInt64> {
            var payloads: [[UInt8]] = []
            for i in 0..<4 {
                var p = F.pseudoRandomBytes(300 + Int(seed) * 53 + i * 37, seed: seed * 10 + UInt64(i))
                for (k, d) in decoys.enumerated() where (k + i) % 2 == 0 {
                    p.insert(contentsOf: d, at: (k * 41 + i * 7) % p.count)
                }
                payloads.append(p)
            }
            var msg = Array("--bb\r\nContent-Type: text/xml\r\n\r\n<x/>".utf8)
            for (i, p) in payloads.enumerated() {
                msg += Array("\r\n--bb\r\nContent-ID: <p\(i)>\r\n\r\n".utf8) + p
            }
            msg += Array("\r\n--bb--\r\n".utf8)
            let path = try dir.write("m\(seed)", msg)
            for window in [8, 13, 64, 100, 65_536] {
                let mr = try MultipartRelated.parse(ScanSource(try PartBody.wholeFile(path)),
                                                    mediaType: try MediaType.parse("multipart/related; boundary=bb"),
                                                    limits: MIMELimits(), spoolDirectory: nil, windowSize: window)
                XCTAssertEqual(try mr.attachments.map { try $0.body.readAll() }, payloads, "seed \(seed) window \(window)")
                XCTAssertEqual(try mr.root.body.readAll(), Array("<x/>".utf8))
            }
        }
    }

    func testBareLineFeedsPreambleEpilogueAndPadding() throws {
        let msg = "This is a preamble --b not a delimiter\n--b  \t\nContent-Type: application/soap+xml\n\n<e/>\n"
            + "--bX is content, not a delimiter\n--b\nContent-ID: <a>\n\nA\r\n\r\n--b--\nepilogue\n--b\nignored"
        let mr = try MultipartRelated.parse(.bytes(Array(msg.utf8)), contentType: "multipart/related; boundary=b")
        XCTAssertEqual(mr.parts.count, 2)
        XCTAssertEqual(try mr.root.body.readAll(), Array("<e/>\n--bX is content, not a delimiter".utf8))
        // Only the CRLF directly before the delimiter belongs to it.
        XCTAssertEqual(try mr.attachments[0].body.readAll(), Array("A\r\n".utf8))
    }

    func testEmptyBodyAndPartWithoutHeaders() throws {
        let msg = "--b\r\nContent-Type: text/xml\r\n\r\n<e/>\r\n--b\r\nContent-ID: <empty>\r\n\r\n\r\n--b\r\n\r\nno headers\r\n--b--"
        let mr = try MultipartRelated.parse(.bytes(Array(msg.utf8)), contentType: "multipart/related; boundary=b")
        XCTAssertEqual(mr.parts.count, 3)
        XCTAssertEqual(mr.parts[1].body, .bytes([]))
        XCTAssertEqual(mr.parts[2].headers.count, 0)
        XCTAssertEqual(mr.parts[2].body, .bytes(Array("no headers".utf8)))
    }

    func testStartSelectsTheRootAndFoldedHeadersUnfold() throws {
        let msg = "--b\r\nContent-ID: <att@x>\r\nContent-Type: application/octet-stream\r\n\r\nDATA\r\n"
            + "--b\r\nContent-Type:\r\n application/soap+xml;\r\n\tcharset=UTF-8\r\nContent-ID: <root@x>\r\n\r\n<e/>\r\n--b--\r\n"
        let mr = try MultipartRelated.parse(.bytes(Array(msg.utf8)),
                                            contentType: "multipart/related; boundary=b; type=\"application/soap+xml\"; start=\"<root@x>\"")
        XCTAssertEqual(mr.rootIndex, 1)
        XCTAssertEqual(mr.root.headers["content-type"], "application/soap+xml; charset=UTF-8")
        XCTAssertEqual(mr.attachments.map(\.contentID), ["att@x"])
        // `start` as a cid: URL is compared after normalisation too.
        let viaCid = try MultipartRelated.parse(.bytes(Array(msg.utf8)),
                                                contentType: "multipart/related; boundary=b; start=\"cid:root%40x\"")
        XCTAssertEqual(viaCid.rootIndex, 1)
    }

    func testSOAP11RootIsAccepted() throws {
        let msg = "--b\r\nContent-Type: text/xml; charset=utf-8\r\n\r\n<e/>\r\n--b--\r\n"
        let mr = try MultipartRelated.parse(.bytes(Array(msg.utf8)), contentType: "multipart/related; boundary=b; type=text/xml")
        XCTAssertEqual(mr.root.contentType?.essence, "text/xml")
    }

    func testBase64PartsAreDecodedInMemoryOrIntoTheSpoolDirectory() throws {
        let payload = F.pseudoRandomBytes(3000, seed: 11)
        let encoded = Data(payload).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
        let msg = "--b\r\nContent-Type: application/soap+xml\r\n\r\n<e/>\r\n--b\r\nContent-ID: <p>\r\n"
            + "Content-Transfer-Encoding: BASE64\r\n\r\n\(encoded)\r\n--b--\r\n"
        let small = try MultipartRelated.parse(.bytes(Array(msg.utf8)), contentType: "multipart/related; boundary=b")
        XCTAssertEqual(small.attachments[0].body, .bytes(payload))
        XCTAssertEqual(small.attachments[0].contentTransferEncoding, "base64")

        let dir = try MIMETemporaryDirectory()
        var limits = MIMELimits()
        limits.maxInMemoryDecodedSize = 100
        let spooled = try MultipartRelated.parse(.bytes(Array(msg.utf8)), contentType: "multipart/related; boundary=b",
                                                 limits: limits, spoolDirectory: dir.path)
        guard case .file(let path, 0, 3000) = spooled.attachments[0].body else {
            return XCTFail("expected a spool file, got \(spooled.attachments[0].body)")
        }
        XCTAssertTrue(path.hasPrefix(dir.path))
        XCTAssertEqual(try spooled.attachments[0].body.readAll(), payload)
    }

    func testBase64DecoderEdgeCases() throws {
        func decode(_ s: String) throws -> [UInt8] {
            var d = MIMEBase64Decoder()
            let bytes = Array(s.utf8)
            var out: [UInt8] = []
            // One byte at a time: state must carry across chunk boundaries.
            for b in bytes { out += try [b].withUnsafeBytes { try d.decode($0) } }
            return out + (try d.finish())
        }
        XCTAssertEqual(try decode("TWFu"), Array("Man".utf8))
        XCTAssertEqual(try decode("TWE=\r\n"), Array("Ma".utf8))
        XCTAssertEqual(try decode("T W\r\nE ="), Array("Ma".utf8))
        XCTAssertEqual(try decode("TQ=="), Array("M".utf8))
        XCTAssertEqual(try decode("TWE"), Array("Ma".utf8)) // unpadded final group
        XCTAssertEqual(try decode(""), [])
        XCTAssertThrowsError(try decode("TWFu!"))
        XCTAssertThrowsError(try decode("TQ==TWFu"))
        XCTAssertThrowsError(try decode("T"))
        XCTAssertThrowsError(try decode("TQ="))
        XCTAssertThrowsError(try decode("=AAA"))
        XCTAssertThrowsError(try decode("TWE=="))
    }
}
