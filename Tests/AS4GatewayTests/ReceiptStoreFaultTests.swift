@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore
import Routing
import WSSecurity
import XCTest

/// A valid receipt that arrives while the store cannot record it (PostgreSQL restarting between
/// the POST and the commit) is kept and recorded once the store answers: the message ends
/// Delivered with that receipt, never Failed with EBMS:0301 while the receiver holds it.
final class ReceiptStoreFaultTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
    }

    override func tearDown() { harness = nil }

    /// gw-a in this process (its store failing on cue) pushes to a real gw-b.
    func pushingNode() throws -> InProcessNode {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-b")  // the development PKI for both
        return try InProcessNode(harness, party: "gw-a")
    }

    func testAReceiptIsRecordedAfterTheStoreFailedToTakeIt() throws {
        let a = try pushingNode()
        let id = try a.submit(to: "gw-b")
        let job = try a.claim(lease: 60)
        a.faults.fail([.markDelivered], times: 3)
        let workers = OutboundWorkers(context: a.context)
        workers.deliver(job, client: try HTTPClient(configuration: workers.clientConfiguration()))

        let sent = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(sent.status, .delivered, a.log)
        XCTAssertNotNil(sent.receipt)
        XCTAssertEqual(sent.receipt, try harness.message("gw-b", id, .inbound)?.receipt, "the receipt gw-b gave")
        XCTAssertEqual(a.faults.calls(.markDelivered), 4)
        let log = a.log
        XCTAssertEqual(log.components(separatedBy: "event=receipt-retrying").count - 1, 1, "the first failure is logged, not every try: \(log)")
        XCTAssertTrue(log.contains("event=delivered message_id=\(id)") && log.contains("store_retries=3"), log)
        XCTAssertFalse(log.contains("event=store-failed"), log)
    }

    /// An outage longer than the lease: the receipt is given up with a clear line, and the next
    /// attempt after the lease gets the same receipt from the receiver, which answers the
    /// duplicate with it.
    func testAnOutageLongerThanTheLeaseEndsWithTheReceiptOfTheNextAttempt() throws {
        let a = try pushingNode()
        let id = try a.submit(to: "gw-b")
        let workers = OutboundWorkers(context: a.context)
        let client = try HTTPClient(configuration: workers.clientConfiguration())
        a.faults.fail([.markDelivered])
        let job = try a.claim(lease: OutboundWorkers.receiptLeaseMargin + 1)
        workers.deliver(job, client: client)
        XCTAssertTrue(a.log.contains("event=receipt-unrecorded message_id=\(id)"), a.log)
        XCTAssertEqual(try a.store.findMessage(id: id, direction: .outbound)?.status, .sending, "left to the lease")
        let given = try XCTUnwrap(try harness.message("gw-b", id, .inbound)?.receipt)

        a.faults.heal()
        Thread.sleep(until: job.leaseUntil.addingTimeInterval(0.2))
        let again = try a.claim()
        XCTAssertEqual(again.attempt, 2)
        workers.deliver(again, client: client)
        let sent = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(sent.status, .delivered, a.log)
        XCTAssertEqual(sent.receipt, given, "the receipt of the first attempt, answered to the duplicate")
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("event=duplicate message_id=\(id)"), harness.nodes["gw-b"]!.log)
    }

    /// gw-b's receipt for a message it pulled from gw-a, and gw-a's answer to it.
    struct PulledReceipt {
        var id: String
        var receipt: [UInt8]
    }

    /// gw-a (in process, its store failing on cue) holds a message for gw-b; gw-b (in process)
    /// pulls it with a signed PullRequest and makes its receipt.
    func pull(_ a: InProcessNode, _ b: InProcessNode, mpc: String) throws -> PulledReceipt {
        let id = try a.submit(to: "gw-b", action: "Notify")
        let request = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-b"), kind: .pullRequest(PullRequest(mpc: mpc)))
        let envelope = try MessageSealer(signer: try b.context.signatureBuilder(for: LegSecurity())).seal(signal: request).envelope
        let pulled = a.post(InboundProcessor(context: a.context), path: "/as4", contentType: MultipartWriter.soapContentType, body: envelope)
        XCTAssertEqual(pulled.status, 200, pulled.bodyText)
        let message = try AS4Message.read(try MessageInput.load(bytes: pulled.bodyBytes, contentType: pulled.headers["Content-Type"],
                                                                spoolDirectory: b.context.spoolDirectory))
        switch InboundProcessor(context: b.context).processUserMessage(message, started: Date(), pulled: true, pulledMPC: mpc) {
        case .success(let receipt): return PulledReceipt(id: id, receipt: receipt)
        case .failure(let f): throw f.error
        }
    }

    func testAPullersReceiptIsAnswered503UntilRecordedAndNever200Before() throws {
        let mpc = "urn:as4gw:mpc:test-for-gw-b"
        try harness.configure(["gw-a", "gw-b"], pull: [.init(mpc: mpc)])
        let a = try InProcessNode(harness, party: "gw-a")
        let b = try InProcessNode(harness, party: "gw-b")
        let holder = InboundProcessor(context: a.context)

        // A short outage is waited out within the request.
        let first = try pull(a, b, mpc: mpc)
        a.faults.fail([.markDelivered], times: 2)
        let answered = a.post(holder, path: "/as4", contentType: MultipartWriter.soapContentType, body: first.receipt)
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        XCTAssertEqual(try a.store.findMessage(id: first.id, direction: .outbound)?.status, .delivered)

        // A longer one: 503 with Retry-After and an ebMS error, the message still waiting for it.
        let second = try pull(a, b, mpc: mpc)
        a.faults.fail([.markDelivered])
        let refused = a.post(holder, path: "/as4", contentType: MultipartWriter.soapContentType, body: second.receipt)
        XCTAssertEqual(refused.status, 503, refused.bodyText)
        XCTAssertEqual(refused.headers["Retry-After"], String(StoreOutage.retryAfterSeconds))
        XCTAssertTrue(refused.bodyText.contains("EBMS:0202"), refused.bodyText)
        let waiting = try XCTUnwrap(try a.store.findMessage(id: second.id, direction: .outbound))
        XCTAssertEqual(waiting.status, .sending)
        XCTAssertNil(waiting.receipt)

        // The puller sends it again once the store is back: recorded, 200.
        a.faults.heal()
        let again = a.post(holder, path: "/as4", contentType: MultipartWriter.soapContentType, body: second.receipt)
        XCTAssertEqual(again.status, 200, again.bodyText)
        let delivered = try XCTUnwrap(try a.store.findMessage(id: second.id, direction: .outbound))
        XCTAssertEqual(delivered.status, .delivered)
        XCTAssertEqual(delivered.receipt.map { [UInt8]($0) }, try? MessageInput.load(bytes: second.receipt, contentType: MultipartWriter.soapContentType).envelope)
    }
}
