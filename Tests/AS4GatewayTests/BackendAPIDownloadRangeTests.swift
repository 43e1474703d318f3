@testable import AS4Gateway
import Foundation
import XCTest

/// A DMS resuming a large download where its connection broke: `GET …/files/{n}` answers one
/// byte range (RFC 9110 §14) with 206, a range beyond the file with 416, and anything it does not
/// serve as a range (several ranges, another unit, a bad range, a stale If-Range) with the whole
/// file, which a client always understands.
final class BackendAPIDownloadRangeTests: XCTestCase {
    static let ministry = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"
    /// 1000 bytes, no two neighbouring slices alike.
    static let content: [UInt8] = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 256) }

    var h: GatewayHarness!
    var ministry: BackendClient!
    var company: BackendClient!

    override func setUpWithError() throws {
        (h, ministry, company) = try GatewayHarness.localMinistryAndCompany()
    }

    override func tearDown() { h = nil }

    func submitted() throws -> String {
        let sent = try ministry.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [Self.company]),
                                       files: [(name: "Līgums_Nr.1.pdf", bytes: Self.content)])
        XCTAssertEqual(sent.status, 202, sent.text)
        return try XCTUnwrap(sent.json["messageId"] as? String)
    }

    func download(_ id: String, _ headers: [(String, String)]) throws -> BackendClient.Reply {
        let r = try company.http.get(url: company.base + "/api/v1/messages/\(id)/files/1",
                                     headers: [("Authorization", "Bearer \(company.token!)")] + headers)
        return BackendClient.Reply(status: r.status, body: r.body, contentType: r.header("Content-Type"),
                                   contentDisposition: r.header("Content-Disposition"), headers: r.headers)
    }

    static func header(_ reply: BackendClient.Reply, _ name: String) -> String? {
        reply.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func testOneRangeIsServedAs206WithTheWholeFilesDigest() throws {
        let id = try submitted()
        let whole = try download(id, [])
        XCTAssertEqual(whole.status, 200, whole.text)
        XCTAssertEqual(whole.body, Self.content)
        XCTAssertEqual(Self.header(whole, "Accept-Ranges"), "bytes")
        let etag = try XCTUnwrap(Self.header(whole, "ETag"))
        let digest = try XCTUnwrap(Self.header(whole, "Repr-Digest"))
        let cases: [(range: String, from: Int, to: Int)] = [
            ("bytes=100-199", 100, 199), ("bytes=900-", 900, 999), ("bytes=-10", 990, 999), ("bytes=990-5000", 990, 999),
            ("bytes=-5000", 0, 999), ("Bytes = 0-0", 0, 0), ("bytes=0-99999999999999999999999", 0, 999),
        ]
        for c in cases {
            let part = try download(id, [("Range", c.range)])
            XCTAssertEqual(part.status, 206, "\(c.range): \(part.text)")
            XCTAssertEqual(part.body, Array(Self.content[c.from...c.to]), c.range)
            XCTAssertEqual(Self.header(part, "Content-Range"), "bytes \(c.from)-\(c.to)/1000", c.range)
            XCTAssertEqual(Self.header(part, "Content-Length"), String(c.to - c.from + 1), c.range)
            XCTAssertEqual(Self.header(part, "Repr-Digest"), digest, c.range)
            XCTAssertEqual(Self.header(part, "ETag"), etag, c.range)
            XCTAssertEqual(part.contentDisposition, "attachment; filename=\"L_gums_Nr.1.pdf\"; filename*=UTF-8''L%C4%ABgums_Nr.1.pdf", c.range)
        }
        // If-Range naming this file: the range stands.
        let resumed = try download(id, [("Range", "bytes=500-"), ("If-Range", etag)])
        XCTAssertEqual(resumed.status, 206, resumed.text)
        XCTAssertEqual(resumed.body, Array(Self.content[500...]))
    }

    /// What is not served as one range gives the whole file, never a part the client did not ask for.
    func testWhatIsNotOneServableRangeGivesTheWholeFile() throws {
        let id = try submitted()
        for headers in [[("Range", "bytes=0-9,20-29")], [("Range", "items=0-9")], [("Range", "bytes=9-3")], [("Range", "bytes=a-b")],
                        [("Range", "bytes=-")], [("Range", "bytes=0-9"), ("If-Range", "\"sha256-00\"")],
                        [("Range", "bytes=0-9"), ("If-Range", "Sat, 28 Nov 2026 10:00:00 GMT")]] {
            let r = try download(id, headers)
            XCTAssertEqual(r.status, 200, "\(headers): \(r.text)")
            XCTAssertEqual(r.body, Self.content, "\(headers)")
            XCTAssertNil(Self.header(r, "Content-Range"), "\(headers)")
        }
    }

    /// A range beyond the file: 416 with the file's length, a problem body, and no reading recorded.
    func testARangeBeyondTheFileIs416AndIsNoReading() throws {
        let id = try submitted()
        for range in ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=99999999999999999999999-"] {
            let r = try download(id, [("Range", range)])
            XCTAssertEqual(r.status, 416, "\(range): \(r.text)")
            XCTAssertEqual(r.contentType, "application/problem+json", range)
            XCTAssertEqual(r.json["type"] as? String, "urn:as4gw:problem:range-not-satisfiable", range)
            XCTAssertEqual(Self.header(r, "Content-Range"), "bytes */1000", range)
        }
        let sender = try ministry.recipient(of: id)
        XCTAssertEqual(sender["status"] as? String, "Accepted", "a refused range read nothing: \(sender)")
        XCTAssertTrue(sender["retrievedAt"] == nil || sender["retrievedAt"] is NSNull, "\(sender)")
        // A range served is a reading like any download.
        XCTAssertEqual(try download(id, [("Range", "bytes=0-9")]).status, 206)
        XCTAssertEqual(try ministry.recipient(of: id)["status"] as? String, "Delivered")
    }

    /// HEAD, before a resumed download: GET's status and header fields (size, ETag, digest, a
    /// range's Content-Range), no body, and no reading recorded; GET then reads as before.
    func testHEADGivesTheSizeAndETagWithoutReading() throws {
        let id = try submitted()
        let path = "/api/v1/messages/\(id)/files/1"
        let head = try company.call("HEAD", path, json: nil)
        XCTAssertEqual(head.status, 200, "\(head.headers)")
        XCTAssertEqual(head.body, [])
        XCTAssertEqual(Self.header(head, "Content-Length"), "1000")
        XCTAssertEqual(Self.header(head, "Accept-Ranges"), "bytes")
        let part = try company.curl("HEAD", path, headers: [("Range", "bytes=900-")])
        XCTAssertEqual(part.status, 206, "\(part.headers)")
        XCTAssertEqual(Self.header(part, "Content-Range"), "bytes 900-999/1000")
        XCTAssertEqual(Self.header(part, "Content-Length"), "100")
        XCTAssertEqual(try company.curl("HEAD", path, headers: [("Range", "bytes=1000-")]).status, 416)
        XCTAssertEqual(try company.call("HEAD", "/api/v1/messages/\(id)/files/2", json: nil).status, 404)
        XCTAssertEqual(try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: nil).call("HEAD", path, json: nil).status, 401)
        let sender = try ministry.recipient(of: id)
        XCTAssertEqual(sender["status"] as? String, "Accepted", "a HEAD is no reading: \(sender)")
        XCTAssertTrue(sender["retrievedAt"] == nil || sender["retrievedAt"] is NSNull, "\(sender)")

        let whole = try download(id, [])
        XCTAssertEqual(whole.status, 200)
        for name in ["ETag", "Repr-Digest", "Content-Type", "Content-Disposition", "Content-Length"] {
            XCTAssertEqual(Self.header(head, name), Self.header(whole, name), name)
        }
        XCTAssertEqual(try ministry.recipient(of: id)["status"] as? String, "Delivered")
    }

    func testRangeHeaderParsing() {
        let tag = ByteRange.etag(sha256: "ab")
        func p(_ h: String?, _ ifRange: String? = nil, size: UInt64 = 10) -> ByteRange { ByteRange.parse(h, ifRange: ifRange, etag: tag, size: size) }
        XCTAssertEqual(p(nil), .whole)
        XCTAssertEqual(p("bytes=2-4"), .part(offset: 2, length: 3))
        XCTAssertEqual(p("bytes=2-"), .part(offset: 2, length: 8))
        XCTAssertEqual(p("bytes=-3"), .part(offset: 7, length: 3))
        XCTAssertEqual(p("bytes=9-100"), .part(offset: 9, length: 1))
        XCTAssertEqual(p("bytes=10-"), .unsatisfiable)
        XCTAssertEqual(p("bytes=-0"), .unsatisfiable)
        XCTAssertEqual(p("bytes=0-", size: 0), .unsatisfiable)
        XCTAssertEqual(p("bytes=-5", size: 0), .unsatisfiable)
        XCTAssertEqual(p("bytes=4-2"), .whole)
        XCTAssertEqual(p("bytes=1-2,4-5"), .whole)
        XCTAssertEqual(p("bytes=+1-2"), .whole)
        XCTAssertEqual(p("bytes=2-4", tag), .part(offset: 2, length: 3))
        XCTAssertEqual(p("bytes=2-4", "W/" + tag), .whole)
    }
}
