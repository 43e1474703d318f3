@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// A document file damaged or lost in the receiving gateway's storage is not served as the
/// document: the recipient's DMS gets a problem answer, the recipient is not marked as having
/// read it, and the sending gateway is not told so; once the file is intact again, reading it
/// counts as before. Real processes (A sends, B holds the mailbox).
final class BackendAPIDamagedFileTests: XCTestCase {
    let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"

    func testATruncatedOrMissingFileIsAProblemAndNotARead() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(company, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(company, ownerId: "40003032949", kind: "company")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [sender]))
        let dmsB = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "dms-b", addresses: [company]))
        try h.start("gw-a")
        try h.start("gw-b")

        // 300,000 bytes that do not compress to nothing, and a second small file.
        var generator = SystemRandomNumberGenerator()
        let big = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let small = Array("pielikums".utf8)
        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [company]), files: [("big.bin", big), ("small.txt", small)])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 30, "the document in B's mailbox") {
            ((try dmsB.get("/api/v1/inbox?address=\(company)").json["items"] as? [[String: Any]]) ?? []).count == 1
        }
        let dataB = h.nodes["gw-b"]!.data
        func recipientAtB() throws -> DocumentRecipient {
            let store = try SQLiteMailboxStore(dataDirectory: dataB)
            defer { store.close() }
            return try XCTUnwrap(try store.document(messageId: id)?.recipients.first)
        }
        func statusReportsSentByB() throws -> Int {
            let store = try SQLiteMessageStore(dataDirectory: dataB)
            defer { store.close() }
            return try store.listMessages(status: nil, since: nil, direction: .outbound, limit: 100)
                .filter { $0.metadata.action == EAddressMessages.statusAction }.count
        }
        let files: [DocumentFile] = try {
            let store = try SQLiteMailboxStore(dataDirectory: dataB)
            defer { store.close() }
            return try XCTUnwrap(try store.document(messageId: id)?.files)
        }()
        XCTAssertEqual(files.map(\.file.size), [300_000, Int64(small.count)])

        // Cut to 1000 bytes: not served, a problem answer, one error line naming message, file
        // and damage (never the file's name).
        XCTAssertEqual(truncate(files[0].file.path, 1000), 0)
        let truncated = try dmsB.get("/api/v1/messages/\(id)/files/1")
        XCTAssertEqual(truncated.status, 500, truncated.text)
        XCTAssertEqual(truncated.contentType, "application/problem+json")
        XCTAssertEqual(truncated.json["type"] as? String, "urn:as4gw:problem:payload-damaged")
        let damaged = h.nodes["gw-b"]!.log.split(separator: "\n").filter { $0.contains("level=error event=payload-damaged") }
        XCTAssertEqual(damaged.count, 1, damaged.description)
        XCTAssertTrue(damaged.first?.contains("document_id=\(id)") == true && damaged.first?.contains("file=1") == true
                      && damaged.first?.contains("damage=wrong-size") == true && damaged.first?.contains("level=error") == true, damaged.description)
        XCTAssertFalse(damaged.first?.contains("big.bin") ?? true)

        // Deleted: the same, not the server's bare "internal server error".
        XCTAssertEqual(unlink(files[1].file.path), 0)
        let missing = try dmsB.get("/api/v1/messages/\(id)/files/2")
        XCTAssertEqual(missing.status, 500, missing.text)
        XCTAssertEqual(missing.json["type"] as? String, "urn:as4gw:problem:payload-damaged")
        XCTAssertTrue(h.nodes["gw-b"]!.log.contains("damage=missing"), h.nodes["gw-b"]!.log.suffix(2000).description)

        // Same size, other bytes: the digest tells.
        var flipped = big
        flipped[150_000] ^= 0xff
        try Data(flipped).write(to: URL(fileURLWithPath: files[0].file.path))
        XCTAssertEqual(try dmsB.get("/api/v1/messages/\(id)/files/1").json["type"] as? String, "urn:as4gw:problem:payload-damaged")
        XCTAssertTrue(h.nodes["gw-b"]!.log.contains("damage=wrong-digest"))

        // None of these was a read: B did not mark the recipient, nor report it to A.
        var recipient = try recipientAtB()
        XCTAssertNil(recipient.retrievedAt)
        XCTAssertEqual(recipient.status, .accepted)
        XCTAssertEqual(try statusReportsSentByB(), 0)

        // The intact file again: served, and now the read counts and travels to A.
        try Data(big).write(to: URL(fileURLWithPath: files[0].file.path))
        let intact = try dmsB.get("/api/v1/messages/\(id)/files/1")
        XCTAssertEqual(intact.status, 200, intact.text)
        XCTAssertEqual(intact.body, big)
        recipient = try recipientAtB()
        XCTAssertNotNil(recipient.retrievedAt)
        XCTAssertEqual(recipient.status, .delivered)
        try h.waitUntil(timeout: 30, "Delivered at A") {
            let r = try dmsA.get("/api/v1/messages/\(id)")
            return ((r.json["recipients"] as? [[String: Any]])?.first?["status"] as? String) == "Delivered"
        }
    }
}
