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
        let f = try SentDocumentFixture()
        let (node, submit, told, claim) = (f.node, f.submit, f.told, f.claim)
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

    /// A receiver's code in the shape of the queue's own event codes is not recorded as given
    /// (`PeerErrorCode`): answering `retry-requested` would leave a `Submitted` event that
    /// `MailboxWorker.track` counts as an operator's retry, and a later late error would tell the
    /// sender `Failed` a second time although no operator retried anything (a review finding).
    func testAReceiversCodeIsNotTakenForAnOperatorsRetry() throws {
        let f = try SentDocumentFixture()
        let (id, as4) = try f.submit()
        // Attempt 1: the receiver refuses with a code of its own that reads like the queue's word.
        let refusal = ErrorDetail(errorCode: MessageEvent.retryRequestedCode, severity: "failure", refToMessageInError: as4,
                                  shortDescription: "Other", description: PartDescription("busy"))
        OutboundWorkers(context: f.node.context).settle(try f.claim(as4), .failure(AttemptFailure(.refusal(refusal), sentMessageId: as4, sentBefore: false)),
                                                        retryAfter: nil, fields: [:])
        XCTAssertEqual(try f.node.store.findMessage(id: as4, direction: .outbound)?.status, .submitted)
        // Attempt 2: no receipt; the message fails and the sender is told once.
        try f.node.store.markFailed(messageId: as4, owner: try f.claim(as4).owner, error: .missingReceipt(attempts: 2), at: Date())
        XCTAssertEqual(try f.told(id).count, 1)

        // No operator retry: the receiver's late error is no new outcome to tell.
        XCTAssertEqual(try f.node.store.recordAttemptError(messageId: as4, owner: PushedErrorSignal.owner(party: "gw-b"),
                                                           error: DeliveryError(code: "EBMS:0004", reason: "refused late"), at: Date()), .failed)
        let after = try f.told(id)
        XCTAssertEqual(after.count, 1, "the sender was told Failed again without any operator retry: \(after)")
    }
}
