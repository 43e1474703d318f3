@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import Routing
import WSSecurity
import XCTest

/// The ebMS error a puller pushes back for a message it pulled from us, answered by gw-a (in
/// process) holding messages for gw-b: within the pull's lease it fails the message; after the
/// lease lapsed it is still recorded (the receiver's word on the message, which the sender's DMS
/// must see) as the message's last error with a late-error event, failing a message queued
/// again but leaving one a receipt made Delivered as it is. Only the party the message is for
/// may send it.
final class PulledMessageErrorTests: XCTestCase {
    let mpc = "urn:as4gw:mpc:test-for-gw-b"
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"], pull: [.init(mpc: mpc)])
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
    }

    /// gw-a queues a message for gw-b, and gw-b pulls it with a signed PullRequest (one attempt).
    func queueAndPull() throws -> String {
        let id = try a.submit(to: "gw-b", action: "Notify")
        let request = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-b"), kind: .pullRequest(PullRequest(mpc: mpc)))
        let envelope = try MessageSealer(signer: try b.context.signatureBuilder(for: LegSecurity())).seal(signal: request).envelope
        let pulled = a.post(InboundProcessor(context: a.context), path: "/as4", contentType: MultipartWriter.soapContentType, body: envelope)
        XCTAssertEqual(pulled.status, 200, pulled.bodyText)
        XCTAssertEqual(try a.store.findMessage(id: id, direction: .outbound)?.outbound?.leaseOwner, "pull:gw-b")
        return id
    }

    /// An error signal referring to `id`, signed by `signer`, posted to gw-a; its HTTP answer.
    func answer(_ id: String, by signer: InProcessNode, severity: String = "failure") -> HTTPResponse {
        let error = ErrorDetail(errorCode: "EBMS:0004", severity: severity, origin: "ebMS", category: "Content", refToMessageInError: id,
                                shortDescription: "Other", description: PartDescription("payload unreadable", lang: "en"))
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@err", refToMessageId: id), kind: .errors([error]))
        do {
            let envelope = try MessageSealer(signer: try signer.context.signatureBuilder(for: LegSecurity())).seal(signal: signal).envelope
            return a.post(InboundProcessor(context: a.context), path: "/as4", contentType: MultipartWriter.soapContentType, body: envelope)
        } catch {
            XCTFail("\(error)")
            return .empty(500)
        }
    }

    /// The pull's lease judged run out (a claimer whose clock is ten minutes ahead).
    func lapseTheLeases() throws {
        XCTAssertGreaterThan(try a.store.reclaimExpiredLeases(now: Date().addingTimeInterval(600)), 0)
    }

    let said = "the receiver answered EBMS:0004 Other: payload unreadable"

    func testWithinTheLeaseTheErrorFailsTheMessage() throws {
        let id = try queueAndPull()
        let answered = answer(id, by: b)
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        let failed = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
        XCTAssertEqual(try a.store.events(for: failed.rowId).last?.code, "EBMS:0004")
    }

    func testAfterTheLeaseLapsedTheErrorFailsTheMessageQueuedAgain() throws {
        let id = try queueAndPull()
        try lapseTheLeases()
        XCTAssertEqual(try a.store.findMessage(id: id, direction: .outbound)?.status, .submitted)

        let answered = answer(id, by: b)
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        let failed = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
        XCTAssertEqual(failed.outbound?.attempts, 1)
        let last = try XCTUnwrap(try a.store.events(for: failed.rowId).last)
        XCTAssertEqual(last.code, "late-error")
        XCTAssertTrue(last.detail?.contains("(answering the attempt of pull:gw-b) after its lease ran out") ?? false, last.detail ?? "")
        XCTAssertTrue(a.log.contains("event=failed message_id=\(id)") && a.log.contains("late=true"), a.log)
    }

    func testAfterTheMessageFailedTheErrorBecomesItsReason() throws {
        let id = try queueAndPull()
        let rowId = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound)).rowId
        try a.store.markFailed(messageId: id, owner: "pull:gw-b", error: .missingReceipt(attempts: 1), at: Date())

        let answered = answer(id, by: b)
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        let failed = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
        let last = try XCTUnwrap(try a.store.events(for: rowId).last)
        XCTAssertEqual(last.code, "late-error")
        XCTAssertTrue(last.detail?.contains("after the message was failed (EBMS:0301") ?? false, last.detail ?? "")
    }

    /// A receipt proves delivery; the error after it is kept beside it, not in its place.
    func testAfterAReceiptTheErrorIsRecordedAndTheMessageStaysDelivered() throws {
        let id = try queueAndPull()
        try a.store.markDelivered(messageId: id, owner: "pull:gw-b", receipt: Data("receipt".utf8), at: Date())

        let answered = answer(id, by: b)
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        let delivered = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(delivered.status, .delivered)
        XCTAssertEqual(delivered.receipt, Data("receipt".utf8))
        XCTAssertEqual(delivered.outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
        let last = try XCTUnwrap(try a.store.events(for: delivered.rowId).last)
        XCTAssertEqual(last.status, .delivered)
        XCTAssertEqual(last.code, "late-error")
        XCTAssertTrue(a.log.contains("event=error-after-receipt message_id=\(id)"), a.log)
        XCTAssertEqual(TailCommand.level(of: last), .warning, "as4gw tail shows it")
    }

    /// Signed by another party than the one the message is for, or about a message never
    /// pulled: refused, and the message is as it was. A warning after the lease is only logged.
    func testAnErrorFromAnotherPartyOrForNoPulledMessageIsRefused() throws {
        let c = try InProcessNode(harness, party: "gw-c")
        let id = try queueAndPull()
        try lapseTheLeases()
        let forged = answer(id, by: c)
        XCTAssertEqual(forged.status, 500, forged.bodyText)
        XCTAssertTrue(forged.bodyText.contains("EBMS:0101"), forged.bodyText)

        let warned = answer(id, by: b, severity: "warning")
        XCTAssertEqual(warned.status, 200, warned.bodyText)
        XCTAssertTrue(a.log.contains("event=peer-warning message_id=\(id)"), a.log)
        let untouched = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(untouched.status, .submitted)
        XCTAssertNil(untouched.outbound?.lastError)

        let waiting = try a.submit(to: "gw-b", action: "Notify")
        let never = answer(waiting, by: b)
        XCTAssertTrue(never.bodyText.contains("EBMS:0003"), never.bodyText)
        XCTAssertEqual(try a.store.findMessage(id: waiting, direction: .outbound)?.status, .submitted)
        XCTAssertNil(try a.store.findMessage(id: waiting, direction: .outbound)?.outbound?.lastError)
    }
}
