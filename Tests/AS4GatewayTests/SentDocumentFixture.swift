@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// Gateway A in process with a DMS that sends documents to a local company and a remote
/// institution behind gw-b: what the tests of a sent document's outcomes share. The remote
/// recipient's AS4 message is driven by hand (`claim`, the store), the mailbox worker by `told`.
struct SentDocumentFixture {
    /// Kept for the test's life: its folder holds the node's data.
    let harness: GatewayHarness
    let node: InProcessNode
    let worker: MailboxWorker
    private let token: String

    init() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), .init(action: "EAddressDocument"), .init(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [GatewayHarness.localEntry(UnqueuedRecipientTests.local, ownerId: "40003032949", kind: "company"),
                                             harness.remoteEntry(UnqueuedRecipientTests.remote, ownerId: "90000048472", kind: "institution",
                                                                 party: "gw-b")])
        token = try harness.addConnection("gw-a", name: "dms", addresses: [UnqueuedRecipientTests.sender])
        let harness = harness
        node = try InProcessNode(harness, party: "gw-a") { $0.dataDirectory = harness.nodes["gw-a"]!.data }
        worker = MailboxWorker(context: node.context)
    }

    /// A document to both recipients; its id and the remote recipient's AS4 message id.
    func submit() throws -> (id: String, as4: String) {
        let answer = node.post(APIHandler(context: node.context), path: "/api/v1/messages", contentType: "multipart/form-data; boundary=b",
                               body: UnqueuedRecipientTests.form(), headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(answer.status, 202, answer.bodyText)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.bodyBytes)) as? [String: Any])
        let id = try XCTUnwrap(json["messageId"] as? String)
        let document = try XCTUnwrap(try node.context.mailbox.document(messageId: id))
        return (id, try XCTUnwrap(document.recipients.first { $0.address == UnqueuedRecipientTests.remote }?.as4MessageId))
    }

    /// The worker's whole backlog done, the details of the `failed` notifications the sender got for document `id`.
    func told(_ id: String) throws -> [String] {
        while try worker.runOnce() > 0 {}
        return try node.context.mailbox.notifications(after: 0, addresses: [UnqueuedRecipientTests.sender], limit: 100)
            .filter { $0.messageId == id && $0.kind == "failed" }.map { $0.detail ?? "" }
    }

    /// The next due message, which must be `as4`, leased as a delivery worker would.
    func claim(_ as4: String) throws -> OutboundJob {
        let job = try XCTUnwrap(try node.store.claimDue(now: Date().addingTimeInterval(3600), limit: 1, owner: "test/w0", lease: 60).first)
        XCTAssertEqual(job.metadata.messageId, as4)
        return job
    }
}
