import Foundation
import XCTest
@testable import EnvelopeXML

final class MIMEWriterTests: XCTestCase {
    private typealias F = MIMETestFixtures
    private let envelope = Array("<?xml version=\"1.0\"?><S12:Envelope xmlns:S12=\"http://www.w3.org/2003/05/soap-envelope\"/>".utf8)

    func testWritesTheAS4ContentTypeAndHeaders() throws {
        let w = try MultipartWriter(boundary: "MIMEBoundary_test", rootContentID: "root@as4gw")
        var sink = MemorySink()
        let ct = try w.write(envelope: envelope,
                             attachments: [.init(contentID: "p1@as4gw", contentType: "application/gzip", body: .bytes([1, 2, 3]),
                                                 extraHeaders: MIMEHeaders(["Content-Disposition": "attachment; filename=\"a.xml\""]))],
                             to: &sink)
        XCTAssertEqual(ct, "multipart/related; type=\"application/soap+xml\"; boundary=\"MIMEBoundary_test\"; "
                           + "start=\"<root@as4gw>\"; start-info=\"application/soap+xml\"")
        XCTAssertEqual(ct, w.contentType)
        let expected = "--MIMEBoundary_test\r\nContent-Type: application/soap+xml; charset=UTF-8\r\n"
            + "Content-Transfer-Encoding: binary\r\nContent-ID: <root@as4gw>\r\n\r\n"
            + String(decoding: envelope, as: UTF8.self)
            + "\r\n--MIMEBoundary_test\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: binary\r\n"
            + "Content-ID: <p1@as4gw>\r\nContent-Disposition: attachment; filename=\"a.xml\"\r\n\r\n\u{1}\u{2}\u{3}"
            + "\r\n--MIMEBoundary_test--\r\n"
        XCTAssertEqual(String(decoding: sink.bytes, as: UTF8.self), expected)
        let mt = try MediaType.parse(ct)
        XCTAssertEqual(mt[parameter: "start-info"], "application/soap+xml")
    }

    func testRandomBoundaryAndRootID() throws {
        let a = try MultipartWriter(), b = try MultipartWriter()
        XCTAssertNotEqual(a.boundary, b.boundary)
        XCTAssertTrue(a.boundary.hasPrefix("MIMEBoundary_"))
        XCTAssertEqual(a.boundary.count, "MIMEBoundary_".count + 32)
        XCTAssertTrue(ContentID.isSafe(a.rootContentID))
    }

    /// Build then parse, for 0, 1 and 5 attachments, in memory and through files: bytes equal.
    func testRoundTripsInMemoryAndThroughFiles() throws {
        let dir = try MIMETemporaryDirectory()
        for count in [0, 1, 5] {
            var attachments: [MultipartWriter.Attachment] = []
            var payloads: [[UInt8]] = []
            for i in 0..<count {
                let payload = F.pseudoRandomBytes(i == 2 ? 0 : 10_000 * (i + 1) + 7, seed: UInt64(100 + i))
                payloads.append(payload)
                // Alternate memory and file-backed bodies (a file range inside a larger file).
                let body: PartBody
                if i % 2 == 0 {
                    body = .bytes(payload)
                } else {
                    let path = try dir.write("src-\(count)-\(i)", [9, 9] + payload + [9])
                    body = .file(path: path, offset: 2, length: UInt64(payload.count))
                }
                attachments.append(.init(contentID: ContentID.generate(), contentType: "application/octet-stream", body: body))
            }
            let writer = try MultipartWriter()

            var memory = MemorySink()
            let ct = try writer.write(envelope: envelope, attachments: attachments, to: &memory)
            let fromMemory = try MultipartRelated.parse(.bytes(memory.bytes), contentType: ct)

            let out = dir.file("out-\(count).mime")
            var file = try FileSink(path: out)
            try writer.write(envelope: envelope, attachments: attachments, to: &file)
            try file.close()
            XCTAssertEqual(try file.body.readAll(), memory.bytes)
            let fromFile = try MessageInput.load(path: out, contentType: ct)

            for parsed in [fromMemory.attachments, fromFile.attachments] {
                XCTAssertEqual(parsed.count, count)
                XCTAssertEqual(parsed.map(\.contentID), attachments.map(\.contentID))
                XCTAssertEqual(try parsed.map { try $0.body.readAll() }, payloads)
                XCTAssertEqual(parsed.map { $0.contentType?.essence }, Array(repeating: "application/octet-stream", count: count))
            }
            XCTAssertEqual(try fromMemory.root.body.readAll(), envelope)
            XCTAssertEqual(fromMemory.root.contentID, writer.rootContentID)
            XCTAssertEqual(fromFile.envelope, envelope)
            XCTAssertTrue(fromFile.isMultipart)
            for a in fromFile.attachments {
                guard case .file(let p, _, _) = a.body else { return XCTFail("file input must give file ranges") }
                XCTAssertEqual(p, out)
            }
        }
    }

    func testSOAPOnlyMessage() throws {
        var sink = MemorySink()
        let ct = try MultipartWriter.writeSOAPOnly(envelope: envelope, to: &sink)
        XCTAssertEqual(ct, "application/soap+xml; charset=UTF-8")
        XCTAssertEqual(sink.bytes, envelope)
        let parsed = try MessageInput.load(bytes: sink.bytes, contentType: ct)
        XCTAssertFalse(parsed.isMultipart)
        XCTAssertEqual(parsed.envelope, envelope)
        XCTAssertEqual(parsed.attachments, [])
    }

    func testRefusesHeaderInjectionAndDuplicateIDs() throws {
        let w = try MultipartWriter(rootContentID: "root@x")
        var sink = MemorySink()
        func attempt(_ a: MultipartWriter.Attachment, _ reason: String, line: UInt = #line) {
            F.assertEbmsError(.mimeInconsistency, reason, line: line) {
                try w.write(envelope: self.envelope, attachments: [a], to: &sink)
            }
        }
        attempt(.init(contentID: "a>\r\nX: y", contentType: "text/plain", body: .bytes([])), "contains characters not allowed")
        attempt(.init(contentID: "", contentType: "text/plain", body: .bytes([])), "is empty")
        attempt(.init(contentID: "a", contentType: "text/plain\r\nX-Evil: 1", body: .bytes([])), "Content-Type value contains a line break")
        attempt(.init(contentID: "a", contentType: "text/plain", body: .bytes([]), extraHeaders: MIMEHeaders(["Bad Name": "x"])),
                "invalid header name")
        attempt(.init(contentID: "root@x", contentType: "text/plain", body: .bytes([])), "duplicate Content-ID <root@x>")
        XCTAssertEqual(sink.bytes, [], "nothing may be written before validation passes")
        XCTAssertThrowsError(try MultipartWriter(boundary: String(repeating: "b", count: 71)))
        XCTAssertThrowsError(try MultipartWriter(boundary: "a\"b"))
    }

    /// A 200 MB file-backed attachment is written and parsed back with bounded memory: the body
    /// is streamed out in 64 KiB chunks and comes back as a range of the written file.
    func testLargeFileBackedAttachmentUsesBoundedMemory() throws {
        let dir = try MIMETemporaryDirectory()
        let size: UInt64 = 200 * 1024 * 1024
        let source = try dir.sparseFile("payload.bin", size: size) // zeros, no disk blocks
        let rssBefore = F.peakRSS()

        let writer = try MultipartWriter()
        let out = dir.file("large.mime")
        var sink = try FileSink(path: out)
        let ct = try writer.write(envelope: envelope, attachments: [
            .init(contentID: "big@as4gw", contentType: "application/octet-stream", body: .file(path: source, offset: 0, length: size)),
            .init(contentID: "small@as4gw", contentType: "text/plain", body: .bytes(Array("after the big one".utf8))),
        ], to: &sink)
        try sink.close()

        let parsed = try MessageInput.load(path: out, contentType: ct)
        XCTAssertEqual(parsed.envelope, envelope)
        XCTAssertEqual(parsed.attachments.count, 2)
        guard case .file(let p, let offset, let length) = parsed.attachments[0].body else { return XCTFail("expected a range") }
        XCTAssertEqual(p, out)
        XCTAssertEqual(length, size)
        let head = "--\(writer.boundary)\r\nContent-Type: application/soap+xml; charset=UTF-8\r\n"
            + "Content-Transfer-Encoding: binary\r\nContent-ID: <\(writer.rootContentID)>\r\n\r\n"
        let attHead = "\r\n--\(writer.boundary)\r\nContent-Type: application/octet-stream\r\n"
            + "Content-Transfer-Encoding: binary\r\nContent-ID: <big@as4gw>\r\n\r\n"
        XCTAssertEqual(offset, UInt64(head.utf8.count + envelope.count + attHead.utf8.count))
        XCTAssertEqual(try PartBody.file(path: out, offset: offset + length - 4, length: 8).readAll(),
                       [0, 0, 0, 0] + Array("\r\n--".utf8))
        XCTAssertEqual(try parsed.attachments[1].body.readAll(), Array("after the big one".utf8))
        // Peak memory grew by far less than the payload (it would be >= 200 MB if buffered).
        XCTAssertLessThan(F.peakRSS() - rssBefore, 32 << 20)
    }
}
