@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// Header forms other implementations send that ebMS3 allows and the eDelivery profile does not
/// forbid outright, received as such (docs/PMODES.md "Header forms we take"): an empty
/// eb:ConversationId (ENTSOG's profile prescribes it, RSSBus sends it) and several PartyIds
/// naming one party (Holodeck B2B). Ids of two parties stay refused: who sent it must be clear.
final class PeerHeaderVariantTests: XCTestCase {
    let unregistered = "urn:oasis:names:tc:ebcore:partyid-type:unregistered"
    var harness: GatewayHarness!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"], legs: [.init(encrypt: false)])
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        b = nil
        harness = nil
    }

    func id(_ value: String) -> PartyId { PartyId(value, type: unregistered) }

    /// An empty (or white-space) ConversationId is taken and kept as ""; the reply our backend
    /// sends to it carries "" too, as a Two-Way reply must carry its request's.
    func testAnEmptyConversationIdIsReceivedAndAnsweredInItsConversation() throws {
        for (n, conversation) in ["", "  \n "].enumerated() {
            var message = CraftedMessage()
            message.conversationId = conversation
            let response = try b.receive(message, signedBy: try b.signer())
            XCTAssertEqual(response.status, 200, "\(n): \(response.bodyText)")
            let stored = try XCTUnwrap(try b.store.findInbound(id: message.id).first, "\(n)")
            XCTAssertEqual(stored.metadata.conversationId, "", "\(n)")
            let log = try String(contentsOfFile: b.logPath, encoding: .utf8)
            XCTAssertTrue(log.contains("event=received message_id=\(message.id) conversation_id=\"\" "), log)
        }
        var request = CraftedMessage()
        request.conversationId = ""
        XCTAssertEqual(try b.receive(request, signedBy: try b.signer()).status, 200)
        let file = harness.root.appendingPathComponent("reply.xml").path
        try Data("<doc>reply</doc>".utf8).write(to: URL(fileURLWithPath: file))
        let reply = try Outbound(context: b.context).submit(SubmissionHandler.Request(
            to: "gw-a", service: "urn:eadrese:services:delivery", action: "DeliverDocument", refToMessageId: request.id,
            payloads: [.init(path: file, mimeType: "application/xml")]))
        XCTAssertEqual(try XCTUnwrap(try b.store.findMessage(id: reply, direction: .outbound)).metadata.conversationId, "")
        let job = try b.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        let user = try XCTUnwrap(try AS4Message.read(try MessageInput.load(bytes: sent, contentType: job.contentType)).messaging.userMessage)
        XCTAssertEqual(user.collaboration.conversationId, "")
        XCTAssertEqual(user.messageInfo.refToMessageId, request.id)
    }

    /// gw-a known by two ids: a message naming both is gw-a's, recorded under one of them
    /// whatever order it lists them in, so a retry that lists them otherwise is a duplicate.
    func testSeveralPartyIdsOfOneSenderAreTakenAndRecordedAlike() throws {
        let path = harness.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let aliased = text.replacingOccurrences(of: "\"partyIds\": [{\"value\": \"gw-a\", \"type\": \"\(unregistered)\"}]",
                                                with: "\"partyIds\": [{\"value\": \"gw-a\", \"type\": \"\(unregistered)\"}, "
                                                    + "{\"value\": \"gw-a-alias\", \"type\": \"\(unregistered)\"}]")
        XCTAssertNotEqual(aliased, text)
        try aliased.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(b.context.registry.reload(from: harness.pmodeDirectory, requiredParties: ["gw-b"]), [])

        var message = CraftedMessage()
        message.fromIds = [id("gw-a-alias"), id("gw-a")]
        let first = try b.receive(message, signedBy: try b.signer())
        XCTAssertEqual(first.status, 200, first.bodyText)
        XCTAssertEqual(try b.store.findInbound(id: message.id).map(\.metadata.fromParty), ["\(unregistered)::gw-a"])
        // Built anew (signed again), the ids the other way round: the same sender's retry.
        message.fromIds = [id("gw-a"), id("gw-a-alias")]
        let retry = try b.receive(message, signedBy: try b.signer())
        XCTAssertEqual(retry.status, 200, retry.bodyText)
        XCTAssertTrue(retry.bodyText.contains("NonRepudiationInformation"), retry.bodyText)
        XCTAssertEqual(try b.store.findInbound(id: message.id).count, 1, "not stored twice")
        let log = try String(contentsOfFile: b.logPath, encoding: .utf8)
        XCTAssertTrue(log.contains("event=duplicate message_id=\(message.id)"), log)
    }

    /// Ids of two parties, or one we do not know beside the sender's: ambiguous as to who sent
    /// it, refused (EBMS:0010) naming only what the message holds, and nothing is kept.
    func testPartyIdsOfAnotherOrNoKnownPartyAreRefused() throws {
        for (n, ids) in [[id("gw-a"), id("gw-c")], [id("gw-a"), id("stranger")], [id("gw-c"), id("gw-a")]].enumerated() {
            var message = CraftedMessage()
            message.fromIds = ids
            let response = try b.receive(message, signedBy: try b.signer())
            XCTAssertEqual(response.status, 500, "\(n): \(response.bodyText)")
            XCTAssertEqual(response.ebmsErrorCode, "EBMS:0010", "\(n): \(response.bodyText)")
            XCTAssertTrue(response.bodyText.contains("From/PartyIds \"\(ids[0])\", \"\(ids[1])\" does not fit (several PartyIds must all name one party)"),
                          "\(n): \(response.bodyText)")
            XCTAssertTrue(try b.store.findInbound(id: message.id).isEmpty, "\(n)")
        }
    }

    /// Oxalis-AS4's payload part: the MIME part carries its own `CompressionType` and `MimeType`
    /// headers beside `Content-Type: application/octet-stream` and a binary transfer encoding,
    /// the PartProperties list CompressionType first, and eb:Timestamp is local time with an
    /// offset. Taken: the part is inflated and kept as the MimeType property says.
    func testOxalisShapedPayloadIsTaken() throws {
        var message = CraftedMessage()
        let document = Array("<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"/>".utf8)
        let contentID = "\(UUID().uuidString)@oxalis.example"
        message.parts[0].contentID = contentID
        message.parts[0].properties = [Property(EbmsConstants.compressionType, EbmsConstants.gzip), Property(EbmsConstants.mimeType, "application/xml")]
        message.parts[0].body = try Gzip.compress(document)
        message.parts[0].signedType = "application/octet-stream"
        message.parts[0].headers = [("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "binary"),
                                    ("Content-ID", "<\(contentID)>"), ("CompressionType", EbmsConstants.gzip), ("MimeType", "application/xml")]
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = TimeZone(secondsFromGMT: 3600)
        local.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSxxx"
        message.timestamp = try XCTUnwrap(Timestamp(lexical: local.string(from: Date())))
        XCTAssertTrue(message.timestamp.lexical.hasSuffix("+01:00"), message.timestamp.lexical)
        let response = try b.receive(message, signedBy: try b.signer())
        XCTAssertEqual(response.status, 200, response.bodyText)
        let part = try XCTUnwrap(try b.store.findInbound(id: message.id).first?.parts.first)
        XCTAssertEqual(part.mimeType, "application/xml")
        XCTAssertEqual(try storedPayload(part), document)
    }
}
