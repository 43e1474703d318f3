@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// Duplicates are detected per sending party: gw-c using gw-a's MessageId first must not have
/// gw-a's genuine message refused for good. Two rows then share an id, and everything that
/// follows one message addresses its row: the mailbox worker, a reply's conversation, the CLI.
final class SenderScopedDuplicateTests: XCTestCase {
    let unregistered = "urn:oasis:names:tc:ebcore:partyid-type:unregistered"
    var harness: GatewayHarness!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"], legs: [.init(encrypt: false), .init(action: EAddressMessages.documentAction, encrypt: false)])
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        b = nil
        harness = nil
    }

    func rows(_ id: String) throws -> [StoredMessage] { try b.store.findInbound(id: id) }

    func testAnIdAnotherPartyUsedFirstStillTakesThisPartysMessage() throws {
        var squatter = CraftedMessage()
        squatter.from = "gw-c"
        XCTAssertEqual(try b.receive(squatter, signedBy: try b.signer("gw-c")).status, 200)

        var genuine = CraftedMessage()
        genuine.id = squatter.id
        let (contentType, body) = try genuine.sealed(by: try b.signer())
        let first = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: contentType, body: body)
        XCTAssertEqual(first.status, 200, first.bodyText)
        XCTAssertEqual(try rows(genuine.id).map(\.metadata.fromParty), ["\(unregistered)::gw-a", "\(unregistered)::gw-c"])

        // Each party's retry is its own message's duplicate: answered, not stored again.
        let again = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: contentType, body: body)
        XCTAssertEqual(again.status, 200, again.bodyText)
        XCTAssertEqual(again.bodyBytes, first.bodyBytes, "the same receipt again")
        XCTAssertEqual(try b.receive(squatter, signedBy: try b.signer("gw-c")).status, 200)
        XCTAssertEqual(try rows(genuine.id).count, 2)

        // Other content under gw-a's id is still refused.
        var other = genuine
        other.parts[0].body = Array("<doc>other</doc>".utf8)
        let refused = try b.receive(other, signedBy: try b.signer())
        XCTAssertEqual(refused.ebmsErrorCode, "EBMS:0003", refused.bodyText)
        XCTAssertTrue(refused.bodyText.contains("already received with different content"), refused.bodyText)
        XCTAssertEqual(try rows(genuine.id).count, 2)
    }

    /// The mailbox worker follows events, which name their row: each party's message is taken
    /// in (here: refused for a header that is none, so each ends Failed), not the newest twice.
    func testTheMailboxWorkerTakesInEachRowOfASharedId() throws {
        var ids: [Int64] = []
        for party in ["gw-c", "gw-a"] {
            let metadata = MessageMetadata(messageId: "shared@x", conversationId: "c", fromParty: "\(unregistered)::\(party)",
                                           toParty: "\(unregistered)::gw-b", service: EAddressMessages.service, action: EAddressMessages.documentAction)
            let header = Array("not a header".utf8)
            let part = MessagePart(contentId: "h@x", mimeType: "application/json",
                                   file: StoredFile(path: "", size: Int64(header.count), sha256: InboundProcessor.hex(try Digest.sha256(header))),
                                   bytes: Data(header))
            guard case .stored(let row) = try b.store.recordInbound(InboundMessage(metadata: metadata, parts: [part], receivedAt: Date()),
                                                                    duplicateWindow: 600) else { return XCTFail("not stored") }
            ids.append(row)
        }
        try MailboxWorker(context: b.context).runOnce()
        XCTAssertEqual(try rows("shared@x").map(\.status), [.failed, .failed], "both rows were taken in")
        XCTAssertEqual(try rows("shared@x").map(\.intakeError?.code), [IntakeFailure.documentHeaderInvalid, IntakeFailure.documentHeaderInvalid])
    }

    /// The mailbox knows a document's carrier by its MessageId alone: a document under an id
    /// another access point's document came under is refused before the receipt.
    func testADocumentUnderAnIdAnotherAccessPointsDocumentCameUnderIsRefused() throws {
        let metadata = MessageMetadata(messageId: "doc@shared", conversationId: "c", fromParty: "\(unregistered)::gw-c",
                                       toParty: "\(unregistered)::gw-b", service: EAddressMessages.service, action: EAddressMessages.documentAction)
        _ = try b.store.recordInbound(InboundMessage(metadata: metadata, receivedAt: Date()), duplicateWindow: 600)
        var document = CraftedMessage()
        document.id = "doc@shared"
        document.action = EAddressMessages.documentAction
        let answer = try b.receive(document, signedBy: try b.signer())
        XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0003", answer.bodyText)
        XCTAssertTrue(answer.bodyText.contains("the MessageId already carried another access point's document here"), answer.bodyText)
        XCTAssertEqual(try rows("doc@shared").count, 1)
    }

    /// A reply to a message we received continues the conversation of the message its receiver
    /// sent us, not of another party's message with the same id.
    func testAReplyJoinsTheConversationOfItsReceiversMessage() throws {
        for (party, conversation) in [("gw-a", "conv-a"), ("gw-c", "conv-c")] {
            let metadata = MessageMetadata(messageId: "asked@x", conversationId: conversation, fromParty: "\(unregistered)::\(party)",
                                           toParty: "\(unregistered)::gw-b", service: "urn:eadrese:services:delivery", action: "DeliverDocument")
            _ = try b.store.recordInbound(InboundMessage(metadata: metadata, receivedAt: Date()), duplicateWindow: 600)
        }
        let file = harness.root.appendingPathComponent("answer.xml").path
        try Data("<answer/>".utf8).write(to: URL(fileURLWithPath: file))
        let id = try Outbound(context: b.context).submit(.init(to: "gw-a", service: "urn:eadrese:services:delivery", action: "DeliverDocument",
                                                               refToMessageId: "asked@x", payloads: [.init(path: file, mimeType: "application/xml")]))
        XCTAssertEqual(try b.store.findMessage(id: id, direction: .outbound)?.metadata.conversationId, "conv-a")
    }

    func testTheCLIAsksWhichPartysMessageAnIdSharedByTwoNames() throws {
        var ids: [String: Int64] = [:]
        for party in ["gw-a", "gw-c"] {
            let metadata = MessageMetadata(messageId: "both@x", conversationId: "conv-\(party)", fromParty: "\(unregistered)::\(party)",
                                           toParty: "\(unregistered)::gw-b", service: "urn:eadrese:services:delivery", action: "DeliverDocument")
            guard case .stored(let row) = try b.store.recordInbound(InboundMessage(metadata: metadata, receivedAt: Date()), duplicateWindow: 600) else {
                return XCTFail("not stored")
            }
            ids[party] = row
        }
        try b.store.markIntakeFailed(rowId: ids["gw-a"]!, error: DeliveryError(code: "c", reason: "r"), at: Date())
        try b.store.markIntakeFailed(rowId: ids["gw-c"]!, error: DeliveryError(code: "c", reason: "r"), at: Date())
        let data = b.context.config.dataDirectory

        let ambiguous = try GatewayProcess.run(["messages", "show", "both@x", "--data", data])
        XCTAssertEqual(ambiguous.status, 2)
        XCTAssertTrue(ambiguous.stderr.contains("message both@x was received from 2 parties (\(unregistered)::gw-c, \(unregistered)::gw-a): "
                                                + "pick one with --from PARTY"), ambiguous.stderr)
        let shown = try GatewayProcess.run(["messages", "show", "both@x", "--from", "gw-a", "--data", data, "--json"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("conv-gw-a") && !shown.stdout.contains("conv-gw-c"), shown.stdout)

        XCTAssertEqual(try GatewayProcess.run(["messages", "retry-intake", "both@x", "--data", data]).status, 2)
        let retried = try GatewayProcess.run(["messages", "retry-intake", "both@x", "--from", "gw-a", "--data", data])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertEqual(try rows("both@x").map(\.metadata.conversationId), ["conv-gw-c", "conv-gw-a"])
        XCTAssertEqual(try rows("both@x").map(\.status), [.failed, .received], "gw-a's message only")

        // --all takes each Failed row, by row.
        let all = try GatewayProcess.run(["messages", "retry-intake", "--all", "--data", data])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(try rows("both@x").map(\.status), [.received, .received])
    }
}
