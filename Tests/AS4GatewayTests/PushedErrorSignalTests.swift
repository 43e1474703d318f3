@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import WSSecurity
import XCTest

/// Error signals a receiver pushes to us as requests of their own (a Domibus agreement with
/// errorAsResponse=false), answered by gw-a (in process) about the messages it pushed to gw-b:
/// verified as gw-b's, answered with an empty 200, and recorded on the message (failing one not
/// yet Delivered, kept beside the receipt of a Delivered one). Warnings and errors about nothing
/// of ours are logged; unsigned signals where the agreement signs are refused.
final class PushedErrorSignalTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"], legs: [.init(), .init(action: "Plain", encrypt: false, sign: false)])
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
    }

    let said = "the receiver answered EBMS:0004 Other: payload unreadable"

    /// gw-a's message to gw-b after its first attempt got no receipt (waiting for its retry).
    func sentOnce(action: String = "DeliverDocument") throws -> String {
        let id = try a.submit(to: "gw-b", action: action)
        let job = try a.claim()
        XCTAssertEqual(try a.store.markRetry(messageId: id, owner: job.owner, error: DeliveryError(code: "EBMS:0301", reason: "no receipt"),
                                             nextAttemptAt: Date().addingTimeInterval(600), at: Date()), .submitted)
        return id
    }

    /// An error signal about `ref` (nil: no RefToMessageId), signed by `signer` (nil: unsigned),
    /// posted to gw-a's AS4 endpoint.
    func push(about ref: String?, by signer: InProcessNode?, severity: String = "failure", code: String = "EBMS:0004") throws -> HTTPResponse {
        let error = ErrorDetail(errorCode: code, severity: severity, origin: "ebMS", category: "Content", refToMessageInError: ref,
                                shortDescription: "Other", description: PartDescription("payload unreadable", lang: "en"))
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@err", refToMessageId: ref), kind: .errors([error]))
        let envelope = try MessageSealer(signer: try signer.map { try $0.context.signatureBuilder(for: nil) }).seal(signal: signal).envelope
        return a.post(InboundProcessor(context: a.context), path: "/as4", contentType: MultipartWriter.soapContentType, body: envelope)
    }

    func assertAnswered(_ response: HTTPResponse, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 200, response.bodyText, file: file, line: line)
        XCTAssertEqual(response.bodyBytes, [], "an empty answer, no signal about a signal", file: file, line: line)
    }

    func message(_ id: String) throws -> StoredMessage { try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound)) }

    func testAFailureAboutAMessageWaitingForItsRetryFailsItWithTheReceiversCode() throws {
        let id = try sentOnce()
        assertAnswered(try push(about: id, by: b))
        let failed = try message(id)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
        let last = try XCTUnwrap(try a.store.events(for: failed.rowId).last)
        XCTAssertEqual(last.code, "late-error")
        XCTAssertTrue(last.detail?.contains("(in an error signal gw-b pushed of its own accord) after its lease ran out or was released") ?? false,
                      last.detail ?? "")
        let line = try XCTUnwrap(a.log.split(separator: "\n").first { $0.contains("event=failed message_id=\(id)") }, a.log)
        for field in ["from=gw-b", "status=Failed", "error_code=EBMS:0004", "async=true"] { XCTAssertTrue(line.contains(field), "\(field) in \(line)") }
        XCTAssertNil(try a.store.claimDue(now: Date().addingTimeInterval(3600), limit: 1, owner: "test/w1", lease: 60).first, "not sent again")
    }

    /// A code outside ebMS3's table is the receiver's word too: recorded and logged as it gave it.
    func testAReceiversOwnCodeIsRecordedAsItGaveIt() throws {
        let id = try sentOnce()
        assertAnswered(try push(about: id, by: b, code: "DOM_006"))
        XCTAssertEqual(try message(id).outbound?.lastError, DeliveryError(code: "DOM_006", reason: "the receiver answered DOM_006 Other: payload unreadable"))
        let line = try XCTUnwrap(a.log.split(separator: "\n").first { $0.contains("event=failed message_id=\(id)") }, a.log)
        XCTAssertTrue(line.contains("error_code=DOM_006"), String(line))

        let other = try sentOnce()
        assertAnswered(try push(about: other, by: b, code: "DOM_006\nlevel=info event=delivered"))
        XCTAssertEqual(try message(other).outbound?.lastError,
                       DeliveryError(code: "EBMS:0004", reason: "the receiver answered EBMS:0004 (for the code \"DOM_006\\u{A}level=info event=delivered\", "
                                         + "which is not recorded as given) Other: payload unreadable"))
        XCTAssertFalse(a.log.contains("\nlevel=info event=delivered"), a.log)
    }

    /// An operator queued the failed message again, so its attempts count afresh; the
    /// receiver's error about the send before is its word all the same: recorded, and failing
    /// the message as it fails one waiting for its retry.
    func testAFailureAboutASendBeforeAnOperatorsRetryFailsIt() throws {
        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        try a.store.markFailed(messageId: id, owner: job.owner, error: .missingReceipt(attempts: 1), at: Date())
        try a.store.retryFailed(messageId: id, at: Date())
        XCTAssertEqual(try message(id).outbound?.attempts, 0)
        assertAnswered(try push(about: id, by: b))
        let failed = try message(id)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
        let last = try XCTUnwrap(try a.store.events(for: failed.rowId).last)
        XCTAssertEqual(last.code, "late-error")
        XCTAssertTrue(last.detail?.hasSuffix("(in an error signal gw-b pushed of its own accord) after it was queued again with its attempts "
                                             + "counted afresh (an operator's retry, or a restart that cut its last attempt off)") ?? false,
                      last.detail ?? "")
        let line = try XCTUnwrap(a.log.split(separator: "\n").first { $0.contains("event=failed message_id=\(id)") }, a.log)
        for field in ["status=Failed", "error_code=EBMS:0004", "async=true"] { XCTAssertTrue(line.contains(field), "\(field) in \(line)") }
        XCTAssertFalse(a.log.contains("not sent yet"), a.log)
        XCTAssertNil(try a.store.claimDue(now: Date().addingTimeInterval(3600), limit: 1, owner: "test/w1", lease: 60).first, "not sent again")
    }

    /// The receipt proves delivery: the error is recorded beside it, the status and the evidence stay.
    func testAnErrorAfterTheReceiptIsKeptBesideIt() throws {
        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        try a.store.markDelivered(messageId: id, owner: job.owner, receipt: Data("receipt".utf8), at: Date())
        assertAnswered(try push(about: id, by: b))
        let delivered = try message(id)
        XCTAssertEqual(delivered.status, .delivered)
        XCTAssertEqual(delivered.receipt, Data("receipt".utf8))
        let last = try XCTUnwrap(try a.store.events(for: delivered.rowId).last)
        XCTAssertEqual(last.status, .delivered)
        XCTAssertEqual(last.code, "late-error")
        XCTAssertTrue(a.log.contains("event=error-after-receipt message_id=\(id)"), a.log)
    }

    /// Pushed while an attempt is in flight: the message fails at once, and that attempt's own
    /// failure to get a receipt then gives way instead of queueing it again.
    func testAFailureDuringAnAttemptFailsTheMessageAndTheAttemptGivesWay() throws {
        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        assertAnswered(try push(about: id, by: b))
        XCTAssertEqual(try message(id).status, .failed)
        XCTAssertTrue(try a.store.events(for: try message(id).rowId).last?.detail?.hasSuffix("while attempt 1 was in flight") ?? false)

        // Nothing listens at gw-b's endpoint: the attempt ends without a receipt.
        OutboundWorkers(context: a.context).deliver(job, client: try HTTPClient(configuration: a.context.outboundClientConfiguration()))
        let failed = try message(id)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
        XCTAssertTrue(a.log.contains("event=attempt-superseded message_id=\(id)"), a.log)
        XCTAssertFalse(a.log.contains("event=store-failed"), a.log)
    }

    /// Answered and logged, nothing recorded: a warning, an error about an id gw-a never sent,
    /// one about a message not sent yet, and a warning that names no message.
    func testWarningsAndErrorsAboutNothingOfOursAreLogged() throws {
        let id = try sentOnce()
        assertAnswered(try push(about: id, by: b, severity: "warning"))
        XCTAssertEqual(try message(id).status, .submitted)
        XCTAssertEqual(try message(id).outbound?.lastError?.code, "EBMS:0301")
        XCTAssertTrue(a.log.contains("event=peer-warning message_id=\(id) from=gw-b"), a.log)

        assertAnswered(try push(about: "nope@elsewhere", by: b))
        XCTAssertTrue(a.log.contains("event=peer-error message_id=nope@elsewhere from=gw-b status=\"no such message of ours\""), a.log)

        let queued = try a.submit(to: "gw-b")
        assertAnswered(try push(about: queued, by: b))
        XCTAssertEqual(try message(queued).status, .submitted)
        XCTAssertNil(try message(queued).outbound?.lastError)

        assertAnswered(try push(about: nil, by: b, severity: "warning"))
        XCTAssertTrue(a.log.contains("event=peer-warning from=gw-b status=\"no RefToMessageId\""), a.log)
    }

    /// The agreement signs: an unsigned signal is refused, about a message or not, and so is
    /// one signed by a party the message did not go to. Nothing changes.
    func testUnsignedSignalsAndOtherPartiesSignalsAreRefused() throws {
        let c = try InProcessNode(harness, party: "gw-c")
        let id = try sentOnce()
        let unsigned = try push(about: id, by: nil)
        XCTAssertEqual(unsigned.status, 500, unsigned.bodyText)
        XCTAssertEqual(unsigned.ebmsErrorCode, "EBMS:0103", unsigned.bodyText)
        let nobodys = try push(about: "nope@elsewhere", by: nil)
        XCTAssertEqual(nobodys.ebmsErrorCode, "EBMS:0103", nobodys.bodyText)
        let foreign = try push(about: id, by: c)
        XCTAssertEqual(foreign.status, 500, foreign.bodyText)
        XCTAssertEqual(foreign.ebmsErrorCode, "EBMS:0101", foreign.bodyText)
        let untouched = try message(id)
        XCTAssertEqual(untouched.status, .submitted)
        XCTAssertEqual(untouched.outbound?.lastError?.code, "EBMS:0301")

        let garbage = a.post(InboundProcessor(context: a.context), path: "/as4", contentType: MultipartWriter.soapContentType,
                             body: Array("<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Header>".utf8))
        XCTAssertEqual(garbage.status, 500, garbage.bodyText)
        XCTAssertEqual(garbage.ebmsErrorCode, "EBMS:0009", garbage.bodyText)
    }

    /// An agreement without signing lets its messages' errors come unsigned.
    func testAnUnsignedErrorAboutAMessageOfAnUnsignedAgreementIsRecorded() throws {
        let id = try sentOnce(action: "Plain")
        assertAnswered(try push(about: id, by: nil))
        XCTAssertEqual(try message(id).status, .failed)
        XCTAssertEqual(try message(id).outbound?.lastError, DeliveryError(code: "EBMS:0004", reason: said))
    }
}
