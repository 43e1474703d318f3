@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// A receiver's code in the shape of the queue's own event codes is not recorded as given
/// (`PeerErrorCode`): answering `retry-requested` would leave a `Submitted` event that
/// `MailboxWorker.track` counts as an operator's retry, and a later late error would tell the
/// sender `Failed` a second time although no operator retried anything (a review finding).
final class PeerCodeAsOwnCodeTests: XCTestCase {
    func testAReceiversCodeIsNotTakenForAnOperatorsRetry() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), .init(action: "EAddressDocument"), .init(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [GatewayHarness.localEntry(UnqueuedRecipientTests.local, ownerId: "40003032949", kind: "company"),
                                             harness.remoteEntry(UnqueuedRecipientTests.remote, ownerId: "90000048472", kind: "institution",
                                                                 party: "gw-b")])
        let token = try harness.addConnection("gw-a", name: "dms", addresses: [UnqueuedRecipientTests.sender])
        let node = try InProcessNode(harness, party: "gw-a") { $0.dataDirectory = harness.nodes["gw-a"]!.data }
        let answer = node.post(APIHandler(context: node.context), path: "/api/v1/messages", contentType: "multipart/form-data; boundary=b",
                               body: UnqueuedRecipientTests.form(), headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(answer.status, 202, answer.bodyText)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.bodyBytes)) as? [String: Any])
        let id = try XCTUnwrap(json["messageId"] as? String)
        let as4 = try XCTUnwrap(try node.context.mailbox.document(messageId: id)?.recipients.first { $0.address == UnqueuedRecipientTests.remote }?.as4MessageId)
        let worker = MailboxWorker(context: node.context)
        func told() throws -> [String] {
            while try worker.runOnce() > 0 {}
            return try node.context.mailbox.notifications(after: 0, addresses: [UnqueuedRecipientTests.sender], limit: 100)
                .filter { $0.messageId == id && $0.kind == "failed" }.map { $0.detail ?? "" }
        }
        func claim() throws -> OutboundJob {
            let job = try XCTUnwrap(try node.store.claimDue(now: Date().addingTimeInterval(3600), limit: 1, owner: "test/w0", lease: 60).first)
            XCTAssertEqual(job.metadata.messageId, as4)
            return job
        }

        // Attempt 1: the receiver refuses with a code of its own that reads like the queue's word.
        let refusal = ErrorDetail(errorCode: MessageEvent.retryRequestedCode, severity: "failure", refToMessageInError: as4,
                                  shortDescription: "Other", description: PartDescription("busy"))
        OutboundWorkers(context: node.context).settle(try claim(), .failure(AttemptFailure(.refusal(refusal), sentMessageId: as4, sentBefore: false)),
                                                      retryAfter: nil, fields: [:])
        XCTAssertEqual(try node.store.findMessage(id: as4, direction: .outbound)?.status, .submitted)
        // Attempt 2: no receipt; the message fails and the sender is told once.
        try node.store.markFailed(messageId: as4, owner: try claim().owner, error: .missingReceipt(attempts: 2), at: Date())
        XCTAssertEqual(try told().count, 1)

        // No operator retry: the receiver's late error is no new outcome to tell.
        XCTAssertEqual(try node.store.recordAttemptError(messageId: as4, owner: PushedErrorSignal.owner(party: "gw-b"),
                                                         error: DeliveryError(code: "EBMS:0004", reason: "refused late"), at: Date()), .failed)
        let after = try told()
        XCTAssertEqual(after.count, 1, "the sender was told Failed again without any operator retry: \(after)")
    }
}
