@testable import AS4Gateway
import Foundation
import HTTPServer
import MessageStore
import XCTest

/// A file labelled XML that is not, which would travel uncompressed (its bytes look compressed
/// already) and so be signed as canonical XML: refused at submission with 422 naming the file,
/// never accepted and then failed as `EBMS:0101 FailedAuthentication`; logged. One that is
/// compressed travels as gzip bytes and is accepted.
final class XMLPayloadSubmissionTests: XCTestCase {
    static let sender = "DVS@90000048472", local = "_DEFAULT@40003032949", remote = "_DEFAULT@90000048472"
    static let random: [UInt8] = {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<20_000).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }()

    var harness: GatewayHarness!
    var node: InProcessNode!
    var token = ""

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), .init(action: "EAddressDocument"), .init(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [GatewayHarness.localEntry(Self.local, ownerId: "40003032949", kind: "company"),
                                             harness.remoteEntry(Self.remote, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        token = try harness.addConnection("gw-a", name: "dms", addresses: [Self.sender])
        node = try InProcessNode(harness, party: "gw-a") { $0.dataDirectory = self.harness.nodes["gw-a"]!.data }
    }

    override func tearDown() {
        node = nil
        harness = nil
    }

    func submit(_ file: [UInt8], type: String, to recipients: [String]) -> HTTPResponse {
        let metadata = "{\"sender\": \"\(Self.sender)\", \"recipients\": [\(recipients.map { "\"\($0)\"" }.joined(separator: ", "))], \"subject\": \"s\"}"
        let body = Array("--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n\(metadata)\r\n".utf8)
            + Array("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"invoice.xml\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
            + file + Array("\r\n--b--\r\n".utf8)
        return node.post(APIHandler(context: node.context), path: "/api/v1/messages", contentType: "multipart/form-data; boundary=b", body: body,
                         headers: [("Authorization", "Bearer \(token)")])
    }

    func testTheAPIRefusesAnXMLFileThatCannotBeSignedAsXML() throws {
        let refused = submit(Self.random, type: "application/xml", to: [Self.local, Self.remote])
        XCTAssertEqual(refused.status, 422, refused.bodyText)
        let problem = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(refused.bodyBytes)) as? [String: Any])
        let errors = try XCTUnwrap(problem["errors"] as? [[String: Any]])
        XCTAssertEqual(errors.map { $0["pointer"] as? String }, ["file/1/Content-Type"])
        let detail = try XCTUnwrap(errors.first?["detail"] as? String)
        XCTAssertTrue(detail.hasPrefix("file part 1: it is labelled application/xml"), detail)
        XCTAssertFalse(refused.bodyText.contains("EBMS:0101") || refused.bodyText.contains("FailedAuthentication"), refused.bodyText)
        XCTAssertTrue(node.log.contains("event=api-refused") && node.log.contains("labelled application/xml"), node.log)
        XCTAssertEqual(try node.context.mailbox.inbox(address: Self.local, after: 0, limit: 10).count, 0, "nothing stored for anyone")

        // For mailboxes only, no AS4 message signs it: the file is the recipients' business.
        XCTAssertEqual(submit(Self.random, type: "application/xml", to: [Self.local]).status, 202)
        // Compressible (a cut-off XML file): it travels gzip-compressed, signed as bytes, and is accepted.
        let cut = Array(String(repeating: "<cbc:Note>text</cbc:Note>\n", count: 400).utf8.dropLast(9))
        let accepted = submit(cut, type: "application/xml", to: [Self.remote])
        XCTAssertEqual(accepted.status, 202, accepted.bodyText)
        let id = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(accepted.bodyBytes)) as? [String: Any])?["messageId"] as? String)
        XCTAssertEqual(try node.context.mailbox.document(messageId: id)?.recipients.first?.status, .submitted)
    }

    func testTheOperatorsSubmitRefusesItWith422NamingTheFile() throws {
        let path = harness.root.appendingPathComponent("scan.bin").path
        try Data(Self.random).write(to: URL(fileURLWithPath: path))
        let request = "{\"to\": \"gw-b\", \"service\": \"urn:eadrese:services:delivery\", \"action\": \"DeliverDocument\", "
            + "\"payloads\": [{\"path\": \"\(path)\", \"mimeType\": \"application/xml\"}]}"
        let refused = node.post(APIHandler(context: node.context), path: "/submit", contentType: "application/json", body: Array(request.utf8),
                                headers: [("Authorization", "Bearer " + node.context.submitToken)])
        XCTAssertEqual(refused.status, 422, refused.bodyText)
        XCTAssertTrue(refused.bodyText.contains("payload \(path): it is labelled application/xml"), refused.bodyText)
        XCTAssertFalse(refused.bodyText.contains("EBMS:0101"), refused.bodyText)
        XCTAssertTrue(node.log.contains("event=api-refused") && node.log.contains("status=422"), node.log)
        XCTAssertEqual(try node.store.queueDepth().total, 0, "nothing queued")
    }

    /// Past the submission's check (a document passing through a hub, or stored before this
    /// check): the recipient fails with the file named, not with a signature error.
    func testAStoredDocumentsUnsignableXMLFailsItsRecipientWithTheFileNamed() throws {
        let stored = try node.store.storePayload(.bytes(Data(Self.random)), at: Date())
        let id = "stored-1@gw-a"
        let document = NewDocument(messageId: id, connection: "dms", idempotencyKey: nil, sender: Self.sender, metadata: "{\"subject\":\"s\"}",
                                   files: [DocumentFile(name: "invoice.xml", mimeType: "application/xml", file: stored)],
                                   recipients: [.init(address: Self.remote, route: .remote, status: .submitted, party: "gw-b", as4MessageId: "as4-\(id)")])
        XCTAssertEqual(try node.context.mailbox.insertDocument(document, notifications: [], at: Date()), .stored)
        let d = try XCTUnwrap(try node.context.mailbox.document(messageId: id))
        XCTAssertFalse(try DocumentExchange(context: node.context).sendDocumentOrFail(d, to: d.recipients[0]))
        let r = try XCTUnwrap(try node.context.mailbox.document(messageId: id)?.recipients.first)
        XCTAssertEqual(r.status, .failed)
        let detail = try XCTUnwrap(try node.context.mailbox.events(messageId: id).last?.detail)
        XCTAssertTrue(detail.hasPrefix("could not be queued for gw-b: file 1 (invoice.xml): it is labelled application/xml"), detail)
        XCTAssertFalse(detail.contains("EBMS:0101"), detail)
        XCTAssertTrue(node.log.contains("event=document-unqueueable"), node.log)
    }
}
