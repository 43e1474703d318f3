@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// The sender of a document learns every final outcome of its recipient's AS4 message: the
/// failure, and after an operator's retry (`messages retry`) that retry's failure too (here
/// ReceiptLost: the receiver holds the message already), once each. A failure recorded again
/// without a retry (the receiver's late error) and a batch the mailbox worker redoes tell nothing new.
final class RetriedFailureNoticeTests: XCTestCase {
    func testEachFinalOutcomeOfARetriedMessageIsToldOnce() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), .init(action: "EAddressDocument"), .init(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [GatewayHarness.localEntry(UnqueuedRecipientTests.local, ownerId: "40003032949", kind: "company"),
                                             harness.remoteEntry(UnqueuedRecipientTests.remote, ownerId: "90000048472", kind: "institution",
                                                                 party: "gw-b")])
        let token = try harness.addConnection("gw-a", name: "dms", addresses: [UnqueuedRecipientTests.sender])
        let node = try InProcessNode(harness, party: "gw-a") { $0.dataDirectory = harness.nodes["gw-a"]!.data }
        /// A document to both recipients; its id and the remote recipient's AS4 message id.
        func submit() throws -> (String, String) {
            let answer = node.post(APIHandler(context: node.context), path: "/api/v1/messages", contentType: "multipart/form-data; boundary=b",
                                   body: UnqueuedRecipientTests.form(), headers: [("Authorization", "Bearer \(token)")])
            XCTAssertEqual(answer.status, 202, answer.bodyText)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.bodyBytes)) as? [String: Any])
            let id = try XCTUnwrap(json["messageId"] as? String)
            let document = try XCTUnwrap(try node.context.mailbox.document(messageId: id))
            return (id, try XCTUnwrap(document.recipients.first { $0.address == UnqueuedRecipientTests.remote }?.as4MessageId))
        }
        let worker = MailboxWorker(context: node.context)
        func told(_ id: String) throws -> [String] {
            while try worker.runOnce() > 0 {}
            return try node.context.mailbox.notifications(after: 0, addresses: [UnqueuedRecipientTests.sender], limit: 100)
                .filter { $0.messageId == id && $0.kind == "failed" }.map { $0.detail ?? "" }
        }
        func claim(_ as4: String) throws -> OutboundJob {
            let job = try XCTUnwrap(try node.store.claimDue(now: Date().addingTimeInterval(3600), limit: 1, owner: "test/w0", lease: 60).first)
            XCTAssertEqual(job.metadata.messageId, as4)
            return job
        }
        func failFirst(_ as4: String) throws {
            try node.store.markFailed(messageId: as4, owner: try claim(as4).owner, error: .missingReceipt(attempts: 1), at: Date())
        }
        /// The operator's retry goes out; the receiver holds the message already: ReceiptLost.
        func retryToReceiptLost(_ as4: String) throws {
            try node.store.retryFailed(messageId: as4, at: Date())
            let resend = try claim(as4)
            let held = ErrorDetail(errorCode: "EBMS:0004", severity: "failure", refToMessageInError: as4, shortDescription: "Other",
                                   description: PartDescription("Another message with the same ID was already received!"))
            OutboundWorkers(context: node.context).settle(resend, .failure(AttemptFailure(.alreadyReceived(held), sentMessageId: as4, sentBefore: true)),
                                                          retryAfter: nil, fields: [:])
            XCTAssertEqual(try node.store.findMessage(id: as4, direction: .outbound)?.outbound?.lastError?.code, "ReceiptLost")
        }

        let (id, as4) = try submit()
        try failFirst(as4)
        XCTAssertEqual(try told(id), ["EBMS:0301: no receipt after 1 attempt(s); the last lease expired"])
        try retryToReceiptLost(as4)
        let afterRetry = try told(id)
        XCTAssertEqual(afterRetry.count, 2, "\(afterRetry)")
        XCTAssertTrue(afterRetry.last?.hasPrefix("ReceiptLost: the receiver reports it already holds this message") ?? false, "\(afterRetry)")
        let events = try node.context.mailbox.events(messageId: id).filter { $0.address == UnqueuedRecipientTests.remote }
        XCTAssertEqual(events.map(\.status), ["Submitted", "Failed", "Failed"])
        XCTAssertEqual(try node.context.mailbox.document(messageId: id)?.recipients.first { $0.address == UnqueuedRecipientTests.remote }?.status,
                       .failed)

        // No retry since: the receiver's late error on the Failed message is no new outcome to tell.
        XCTAssertEqual(try node.store.recordAttemptError(messageId: as4, owner: PushedErrorSignal.owner(party: "gw-b"),
                                                         error: DeliveryError(code: "EBMS:0004", reason: "refused late"), at: Date()), .failed)
        XCTAssertEqual(try told(id), afterRetry)

        // A batch redone (a node that took the job over starts from an older cursor) tells nothing twice.
        try node.context.mailbox.setCursor(MailboxWorker.cursorName, to: 0)
        XCTAssertEqual(try told(id), afterRetry)

        // The worker meets both failures only after the retry's: the sender learns the outcome
        // the message has, once.
        let (late, lateAS4) = try submit()
        try failFirst(lateAS4)
        try retryToReceiptLost(lateAS4)
        let once = try told(late)
        XCTAssertEqual(once.count, 1, "\(once)")
        XCTAssertTrue(once.first?.hasPrefix("ReceiptLost: ") ?? false, "\(once)")
    }
}
