import AS4Crypto
@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import WSSecurity
import XCTest

/// The mailbox worker's work done twice over: a round that failed after part of its work (and
/// is repeated), or two nodes in one batch because one lost the job lock without knowing. What
/// reaches another access point (a status report) goes out once, and a message another round
/// settled is not this round's failure.
final class IntakeRepeatTests: XCTestCase {
    static let sender = "DVS@90000048472", unknown = "_DEFAULT@40003000001"
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
    }

    /// gw-a's e-address document for `recipient`, received (and receipted) by gw-b; its AS4 id.
    func carry(to recipient: String) throws -> String {
        let documentId = Identifier.messageId(domain: "gw-a")
        let file = Array("Lēmums".utf8)
        let header = EAddressMessages.DocumentHeader(
            documentId: documentId, sender: Self.sender, recipient: recipient,
            metadata: #"{"recipients": ["\#(recipient)"], "sender": "\#(Self.sender)", "subject": "Lēmums"}"#,
            files: [.init(name: "l.txt", mimeType: "text/plain", size: Int64(file.count), sha256: InboundProcessor.hex(try Digest.sha256(file)))])
        let request = SubmissionHandler.Request(
            to: "gw-b", service: EAddressMessages.service, action: EAddressMessages.documentAction, conversationId: documentId,
            properties: ["originalSender": .init(Self.sender), "finalRecipient": .init(recipient), "documentId": .init(documentId)], payloads: [])
        let id = Identifier.messageId(domain: "gw-a")
        try Outbound(context: a.context).queue(request, payloads: [
            Payload(contentID: EAddressMessages.headerContentID, mimeType: "application/json", body: .bytes(Array(try EAddressMessages.encode(header)))),
            Payload(mimeType: "text/plain", body: .bytes(file)),
        ], id: id)
        let job = try a.claim()
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: [UInt8](try XCTUnwrap(job.messageBytes)))
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        XCTAssertEqual(try b.store.findMessage(id: id, direction: .inbound)?.status, .received)
        return id
    }

    func statusReports() throws -> [StoredMessage] {
        try b.store.listMessages(status: nil, since: nil, direction: .outbound, limit: 100).filter { $0.metadata.action == EAddressMessages.statusAction }
    }

    func testARefusalTakenInAgainAfterItsRoundFailedIsReportedOnce() throws {
        let id = try carry(to: Self.unknown)
        let worker = MailboxWorker(context: b.context)
        b.faults.fail([.markIntakeFailed], times: 1)  // the round fails after the refusal was reported
        XCTAssertThrowsError(try worker.runOnce())
        XCTAssertEqual(try b.store.findMessage(id: id, direction: .inbound)?.status, .received, "to be taken in again")
        XCTAssertEqual(try statusReports().count, 1)

        try worker.runOnce()
        let failed = try XCTUnwrap(b.store.findMessage(id: id, direction: .inbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.intakeError?.reason.contains("reported Failed to gw-a") ?? false, "\(String(describing: failed.intakeError))")
        let reports = try statusReports()
        XCTAssertEqual(reports.count, 1, "gw-a is told once: \(reports.map(\.metadata.messageId))")
        XCTAssertEqual(reports.first?.metadata.refToMessageId, id)
        XCTAssertEqual(reports.first?.metadata.messageId, try OriginStatusReport.messageId(
            carrier: id, documentId: try XCTUnwrap(reports.first?.metadata.conversationId), recipient: Self.unknown, status: .failed,
            domain: b.context.messageIdDomain))
        XCTAssertEqual(b.log.components(separatedBy: "event=document-refused").count - 1, 1, "one refusal logged")
        XCTAssertEqual(b.context.metrics.intakeFailuresReported.load(ordering: .relaxed), 1, "and counted once")
    }

    /// Another round (another node's) marked the message between this round's reading it and
    /// marking it: the message is settled, the round goes on. A message still Received that
    /// cannot be marked is a failure as before.
    func testAMessageAnotherRoundSettledIsNotThisRoundsFailure() throws {
        let id = try carry(to: Self.unknown)
        let worker = MailboxWorker(context: b.context)
        b.faults.fail([.markIntakeFailed], with: .illegalTransition(messageId: id, from: .failed, to: .failed), times: 1)
        let before = try b.context.mailbox.cursor(MailboxWorker.cursorName)
        XCTAssertNoThrow(try worker.runOnce())
        XCTAssertTrue(b.log.contains("event=intake-settled-elsewhere"), b.log)
        XCTAssertGreaterThan(try b.context.mailbox.cursor(MailboxWorker.cursorName), before, "the batch is done")

        let second = try carry(to: Self.unknown)
        b.faults.fail([.markIntakeFailed], with: .illegalTransition(messageId: second, from: .received, to: .failed), times: 1)
        XCTAssertThrowsError(try worker.runOnce()) { error in
            XCTAssertEqual(error as? StoreError, .illegalTransition(messageId: second, from: .received, to: .failed))
        }
    }

    /// Two nodes' requeues meet a forwarded document's recipient that cannot be queued (no
    /// agreement with its access point): it becomes Failed once, and the origin is told once.
    func testAnUnqueueableRecipientIsReportedOnceWhenTwoRequeuesMeetIt() throws {
        let documentId = "doc-unqueueable@gw-a", recipient = "_DEFAULT@40003032949"
        _ = try b.context.mailbox.insertDocument(NewDocument(
            messageId: documentId, connection: nil, idempotencyKey: nil, sender: Self.sender, metadata: "{}", originParty: "gw-a",
            originMessageId: "as4-from-a@gw-a", files: [],
            recipients: [.init(address: recipient, route: .remote, status: .submitted, party: "gw-c", as4MessageId: "forward-1@gw-b")]),
            notifications: [], at: Date())
        let d = try XCTUnwrap(b.context.mailbox.document(messageId: documentId))
        let r = try XCTUnwrap(d.recipients.first)
        let exchange = DocumentExchange(context: b.context)
        // Both read the recipient as Submitted before either made it Failed.
        XCTAssertFalse(try exchange.sendDocumentOrFail(d, to: r))
        XCTAssertFalse(try exchange.sendDocumentOrFail(d, to: r))
        XCTAssertEqual(try b.context.mailbox.document(messageId: documentId)?.recipients.first?.status, .failed)
        let reports = try statusReports()
        XCTAssertEqual(reports.count, 1, "the origin is told once: \(reports.map(\.metadata.messageId))")
        XCTAssertEqual(reports.first?.metadata.refToMessageId, "as4-from-a@gw-a")
        XCTAssertEqual(b.log.components(separatedBy: "event=document-unqueueable").count - 1, 1, b.log)
    }
}
