@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import XCTest

/// The eb:MessageId we send is `left@right`, both sides RFC 5322 dot-atoms: Oxalis (Peppol)
/// refuses any other form with EBMS:0009, after every retry. A backend's id in another form is
/// refused at submission (422, nothing queued); the ids we make keep to it whatever our party's name.
final class SubmittedMessageIdTests: XCTestCase {
    var harness: GatewayHarness!

    override func tearDown() {
        harness = nil
    }

    func testAnIdNotOfTheDotAtomFormIsRefusedAtSubmission() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        let a = try InProcessNode(harness, party: "gw-a")
        func submit(_ id: String) throws -> HTTPResponse {
            let file = harness.root.appendingPathComponent("\(UUID().uuidString).xml").path
            try Data("<doc>id</doc>".utf8).write(to: URL(fileURLWithPath: file))
            let body: [String: Any] = ["to": "gw-b", "messageId": id, "service": "urn:eadrese:services:delivery", "action": "DeliverDocument",
                                       "payloads": [["path": file, "mimeType": "application/xml"]]]
            return a.post(APIHandler(context: a.context), path: "/submit", contentType: "application/json",
                          body: [UInt8](try JSONSerialization.data(withJSONObject: body)), headers: [("Authorization", "Bearer " + a.context.submitToken)])
        }
        for id in ["invoice-2026-001", "a..b@gw-a", "doc@[192.0.2.1]", "dossier-é@gw-a", "x@gw-a."] {
            let response = try submit(id)
            XCTAssertEqual(response.status, 422, "\(id): \(response.bodyText)")
            XCTAssertTrue(response.bodyText.contains("is not of the form left@right"), "\(id): \(response.bodyText)")
            XCTAssertNil(try a.store.findMessage(id: id, direction: .outbound), id)
        }
        // The earlier rule still speaks first: white space is named as such.
        XCTAssertTrue(try submit("a b@gw-a").bodyText.contains("contains white space"))
        let fine = "invoice-7.2026@erp.example"
        XCTAssertEqual(try submit(fine).status, 202)
        XCTAssertNotNil(try a.store.findMessage(id: fine, direction: .outbound))
    }

    /// A party name with letters outside ASCII and dots at its end still gives ids of the form.
    func testTheIdsWeMakeKeepTheFormWhateverThePartyName() throws {
        harness = try GatewayHarness()
        let name = "ministère.gw."
        try harness.configure([name, "gw-b"])
        let node = try InProcessNode(harness, party: name)
        let id = try node.submit(to: "gw-b")
        XCTAssertTrue(MessageIdForm.isDotAtom(id), id)
        XCTAssertTrue(id.hasSuffix("@ministre.gw"), id)
        let job = try node.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        let user = try XCTUnwrap(try AS4Message.read(try MessageInput.load(bytes: sent, contentType: job.contentType)).messaging.userMessage)
        XCTAssertEqual(user.messageInfo.messageId, id)
    }
}
