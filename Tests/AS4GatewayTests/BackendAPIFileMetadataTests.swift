@testable import AS4Gateway
import Foundation
import XCTest

/// What a submission says about its files and deadline, end to end: a file's charset and its
/// UTF-8 name are served back as submitted (one gateway, and across two by AS4, where the
/// charset travels as the part's CharacterSet), names that are paths or not names are refused,
/// and impossible dates and fractional sizes are refused rather than quietly changed.
final class BackendAPIFileMetadataTests: XCTestCase {
    static let ministry = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"
    /// Ā in windows-1257 (it is Â in windows-1252 and not UTF-8 at all).
    static let latvianText: [UInt8] = [0xC2]

    static func part(_ disposition: String, _ contentType: String) -> String {
        "Content-Disposition: form-data; name=\"file\"; \(disposition)\r\nContent-Type: \(contentType)"
    }

    var h: GatewayHarness!
    var ministry: BackendClient!
    var company: BackendClient!
    var metadata: String { BackendClient.metadata(from: Self.ministry, to: [Self.company]) }

    override func setUpWithError() throws {
        (h, ministry, company) = try GatewayHarness.localMinistryAndCompany()
    }

    override func tearDown() { h = nil }

    /// The charset and the filename* name survive; filename* wins over filename.
    func testCharsetAndUTF8NamesAreServedAsSubmitted() throws {
        let sent = try ministry.submit(metadata: metadata, rawParts: [
            (Self.part("filename*=UTF-8''l%C4%93mums%20%C5%BE.txt", "Text/Plain; charset=\"Windows-1257\""), Self.latvianText),
            (Self.part("filename=\"lemums.pdf\"; filename*=utf-8'lv'l%C4%93mums.pdf", "application/pdf"), Array("%PDF".utf8)),
        ])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        let view = try company.get("/api/v1/messages/\(id)")
        let files = try XCTUnwrap(view.json["files"] as? [[String: Any]], view.text)
        XCTAssertEqual(files.map { $0["name"] as? String }, ["lēmums ž.txt", "lēmums.pdf"])
        XCTAssertEqual(files.map { $0["mimeType"] as? String }, ["text/plain; charset=windows-1257", "application/pdf"])
        let file = try company.get("/api/v1/messages/\(id)/files/1")
        XCTAssertEqual(file.status, 200, file.text)
        XCTAssertEqual(file.body, Self.latvianText)
        XCTAssertEqual(file.contentType, "text/plain; charset=windows-1257")
        XCTAssertEqual(file.contentDisposition, "attachment; filename=\"l_mums _.txt\"; filename*=UTF-8''l%C4%93mums%20%C5%BE.txt")
    }

    /// Names that are paths, not names, or undecodable: 422 naming the part.
    func testNamesThatAreNotFileNamesAreRefused() throws {
        let badNames = ["filename=\"..\\\\..\\\\evil.txt\"", "filename=\"..\"", "filename=\".\"", "filename=\"a/b.txt\"", "filename=\"\"",
                        "filename*=UTF-8''%2E%2E", "filename*=UTF-8''a%5Cb", "filename*=ISO-8859-1''a.txt", "filename*=UTF-8''%C4",
                        "filename=\"\(String(repeating: "ž", count: 128))\"", "name2=\"x\"",
                        // Two names for one file (RFC 6266: invalid; readers differ on which counts).
                        "filename=\"a.txt\"; filename=\"b.exe\"", "FileName=\"a.txt\"; filename=\"a.txt\"",
                        "filename*=UTF-8''a.txt; filename*=UTF-8''b.exe"]
        for disposition in badNames {
            let r = try ministry.submit(metadata: metadata, rawParts: [(Self.part("filename=\"ok.txt\"", "text/plain"), [0x41]),
                                                                       (Self.part(disposition, "text/plain"), [0x41])])
            XCTAssertEqual(r.status, 422, "\(disposition): \(r.text)")
            let errors = (r.json["errors"] as? [[String: Any]]) ?? []
            XCTAssertEqual(errors.first?["pointer"] as? String, "file/2/filename", "\(disposition): \(r.text)")
        }
        // A part named twice is not a file part or a metadata part by the reader's choice: refused whole.
        let twice = try ministry.submit(metadata: metadata, rawParts: [("Content-Disposition: form-data; name=\"file\"; name=\"metadata\"; filename=\"a.txt\"", [0x41])])
        XCTAssertEqual(twice.status, 400, twice.text)
        XCTAssertEqual(twice.json["type"] as? String, "urn:as4gw:problem:bad-request", twice.text)
        XCTAssertTrue((twice.json["detail"] as? String ?? "").contains("name more than once"), twice.text)
        // So is a part with two Content-Disposition headers, each naming another file.
        let twoHeaders = try ministry.submit(metadata: metadata, rawParts: [
            (Self.part("filename=\"a.txt\"", "text/plain") + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.exe\"", [0x41])])
        XCTAssertEqual(twoHeaders.status, 400, twoHeaders.text)
        XCTAssertTrue((twoHeaders.json["detail"] as? String ?? "").contains("2 Content-Disposition headers"), twoHeaders.text)
        let inbox = try company.get("/api/v1/inbox?address=\(Self.company)")
        XCTAssertEqual((inbox.json["items"] as? [Any])?.count, 0, inbox.text)
    }

    /// A name in a legacy charset (raw windows-1257 bytes in filename="…", as an older DMS sends
    /// it) is refused with a pointer to the part, not stored with U+FFFD in place of its letters.
    func testANameThatIsNotUTF8IsRefusedNotGarbled() throws {
        let boundary = "b-\(UUID().uuidString)"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n\(metadata)\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"L".utf8) + [0xEE]  // ī in windows-1257
            + Array("gums_Nr.1.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--\(boundary)--\r\n".utf8)
        let r = try ministry.http.post(url: ministry.base + "/api/v1/messages",
                                       headers: [("Authorization", "Bearer \(ministry.token!)"), ("Content-Type", "multipart/form-data; boundary=\(boundary)")],
                                       body: .bytes(body))
        let reply = BackendClient.Reply(status: r.status, body: r.body, contentType: r.header("Content-Type"))
        XCTAssertEqual(reply.status, 422, reply.text)
        let errors = (reply.json["errors"] as? [[String: Any]]) ?? []
        XCTAssertEqual(errors.first?["pointer"] as? String, "file/1/filename", reply.text)
        XCTAssertTrue((errors.first?["detail"] as? String ?? "").contains("not UTF-8"), reply.text)
        XCTAssertEqual((try company.get("/api/v1/inbox?address=\(Self.company)").json["items"] as? [Any])?.count, 0)
        // The same name in UTF-8, either way, is taken as it is.
        for disposition in ["filename=\"Līgums_Nr.1.pdf\"", "filename*=UTF-8''L%C4%ABgums_Nr.1.pdf"] {
            let ok = try ministry.submit(metadata: metadata, rawParts: [(Self.part(disposition, "application/pdf"), Array("%PDF".utf8))])
            XCTAssertEqual(ok.status, 202, ok.text)
            let id = try XCTUnwrap(ok.json["messageId"] as? String)
            XCTAssertEqual(((try company.get("/api/v1/messages/\(id)").json["files"] as? [[String: Any]])?.first?["name"] as? String), "Līgums_Nr.1.pdf")
        }
    }

    /// Media types that are not token/quoted-string throughout are refused, not guessed over.
    func testMediaTypesThatAreNotValidAreRefused() throws {
        for type in ["text/plain; charset=\"a b\"", "text/plain; charset=utf-8; x=a/b", "text/plain; charset=\"utf-8", "text plain"] {
            let r = try ministry.submit(metadata: metadata, rawParts: [(Self.part("filename=\"a.txt\"", type), [0x41])])
            XCTAssertEqual(r.status, 422, "\(type): \(r.text)")
            XCTAssertEqual(((r.json["errors"] as? [[String: Any]]) ?? []).first?["pointer"] as? String, "file/1/Content-Type", r.text)
        }
    }

    /// Impossible deadlines: refused as not being dates, not rolled over or called past.
    func testImpossibleDeadlinesAreRefused() throws {
        for when in ["2027-02-30T00:00:00Z", "2026-02-30T00:00:00Z", "2027-04-31T12:00:00+02:00", "2027-01-01T24:00:00Z"] {
            let m = "{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"\(Self.company)\"], \"subject\": \"s\", \"deliveryBy\": \"\(when)\"}"
            let r = try ministry.submit(metadata: m, files: [("a.txt", [0x41])])
            XCTAssertEqual(r.status, 422, "\(when): \(r.text)")
            let error = ((r.json["errors"] as? [[String: Any]]) ?? []).first
            XCTAssertEqual(error?["pointer"] as? String, "/deliveryBy", r.text)
            XCTAssertTrue((error?["detail"] as? String ?? "").contains("must be an RFC 3339 date-time"), r.text)
        }
        let due = "{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"\(Self.company)\"], \"subject\": \"s\", \"deliveryBy\": \"2099-02-28T23:00:00.5-01:00\"}"
        XCTAssertEqual(try ministry.submit(metadata: due, files: [("a.txt", [0x41])]).status, 202)
    }

    /// Uploads: an integer size, a checked name, the charset kept.
    func testUploadsTakeIntegerSizesFileNamesAndTheCharset() throws {
        let fractional = try ministry.post("/api/v1/uploads", json: "{\"name\": \"a.txt\", \"mimeType\": \"text/plain\", \"size\": 5.5}")
        XCTAssertEqual(fractional.status, 422, fractional.text)
        XCTAssertEqual(((fractional.json["errors"] as? [[String: Any]]) ?? []).first?["pointer"] as? String, "/size")
        for name in ["..", "..\\\\evil.txt", "a/b"] {
            let r = try ministry.post("/api/v1/uploads", json: "{\"name\": \"\(name)\", \"size\": 5}")
            XCTAssertEqual(r.status, 422, "\(name): \(r.text)")
        }
        let upload = try ministry.post("/api/v1/uploads", json: "{\"name\": \"ā.txt\", \"mimeType\": \"TEXT/plain;charset=Windows-1257\", \"size\": 5}")
        XCTAssertEqual(upload.status, 201, upload.text)
        XCTAssertEqual(upload.json["mimeType"] as? String, "text/plain; charset=windows-1257")
        let injected = try ministry.post("/api/v1/uploads", json: "{\"name\": \"a.txt\", \"mimeType\": \"text/plain\\r\\nX-Evil: 1\", \"size\": 5}")
        XCTAssertEqual(injected.status, 422, injected.text)
    }
}

/// Across two gateways by AS4: the charset travels as the part's CharacterSet (and in the
/// document header), and the receiving gateway serves the file with it and its UTF-8 name.
final class BackendAPIFileMetadataExchangeTests: XCTestCase {
    static let ministry = BackendAPIFileMetadataTests.ministry, company = BackendAPIFileMetadataTests.company
    static let latvianText = BackendAPIFileMetadataTests.latvianText

    func testAcrossTwoGatewaysTheCharsetTravelsAsCharacterSet() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        let dmsA = try h.companyMailboxOnB(Self.company, ownerId: "40003032949", dmsOf: Self.ministry)
        let dmsB = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "dms-b", addresses: [Self.company]))
        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [Self.company]), rawParts: [
            (BackendAPIFileMetadataTests.part("filename*=UTF-8''l%C4%93mums%20%C5%BE.txt", "text/plain; charset=windows-1257"), Self.latvianText),
        ])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 30, "the document accepted") { try dmsA.recipient(of: id)["status"] as? String == "Accepted" }
        // Accepted at A is B's receipt; B's intake takes the document into the mailbox after it.
        try h.waitUntil(timeout: 30, "the document in the mailbox at B") {
            ((try dmsB.get("/api/v1/inbox?address=\(Self.company)").json["items"] as? [Any])?.count ?? 0) == 1
        }

        let file = try dmsB.get("/api/v1/messages/\(id)/files/1")
        XCTAssertEqual(file.status, 200, file.text)
        XCTAssertEqual(file.body, Self.latvianText)
        XCTAssertEqual(file.contentType, "text/plain; charset=windows-1257")
        XCTAssertEqual(file.contentDisposition, "attachment; filename=\"l_mums _.txt\"; filename*=UTF-8''l%C4%93mums%20%C5%BE.txt")

        // On the wire: MimeType the bare type, the charset as the part's CharacterSet.
        let receipts = try dmsA.get("/api/v1/messages/\(id)/receipt")
        let as4Id = try XCTUnwrap(((receipts.json["recipients"] as? [[String: Any]])?.first?["as4MessageId"]) as? String, receipts.text)
        let store = try h.store("gw-b")
        defer { store.close() }
        let message = try XCTUnwrap(try store.findMessage(id: as4Id, direction: .inbound))
        let part = try XCTUnwrap(message.parts.last)
        XCTAssertEqual(part.mimeType, "text/plain")
        XCTAssertEqual(part.properties.first { $0.name == "CharacterSet" }?.value, "windows-1257")
    }
}
