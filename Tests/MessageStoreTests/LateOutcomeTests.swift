import Foundation
import MessageStore
import XCTest

/// What the queue does when its own conclusions are overtaken: a receipt or the receiver's
/// error that comes after the message was failed or its lease was lost, a deadline withdrawal
/// while an attempt is in flight, and a restart that cut the last attempt off.
class LateOutcomeTests: StoreTestCase {
    let receipt = Data("rcpt".utf8)

    /// A lease judged expired (a clock step) failed the message while its worker still waited;
    /// the receipt that worker then validated is recorded all the same.
    func testAReceiptAfterTheMessageWasFailedIsRecorded() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("late", at: t0, maxAttempts: 1))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w0", lease: 60)
        XCTAssertEqual(try store.claimDue(now: t0 + 120, limit: 1, owner: "w1", lease: 60), [])
        XCTAssertEqual(try store.findMessage(id: "late", direction: .outbound)?.status, .failed)

        try store.markDelivered(messageId: "late", owner: "w0", receipt: receipt, at: t0 + 121)
        let message = try XCTUnwrap(try store.findMessage(id: "late", direction: .outbound))
        XCTAssertEqual(message.status, .delivered)
        XCTAssertEqual(message.receipt, receipt)
        XCTAssertEqual(message.receiptAt, t0 + 121)
        let last = try XCTUnwrap(try store.events(for: message.rowId).last)
        XCTAssertEqual(last.status, .delivered)
        XCTAssertEqual(last.code, "late-receipt")
        XCTAssertTrue(last.detail?.contains("after the message was failed (EBMS:0301") ?? false, last.detail ?? "")

        // Delivered stays final: the first receipt is the evidence kept.
        assertThrows(.illegalTransition(messageId: "late", from: .delivered, to: .delivered)) {
            try store.markDelivered(messageId: "late", owner: "w1", receipt: Data("other".utf8), at: t0 + 122)
        }
        XCTAssertEqual(try store.findMessage(id: "late", direction: .outbound)?.receipt, receipt)
        XCTAssertEqual(try store.claimDue(now: t0 + 1_000, limit: 1, owner: "w1", lease: 60), [])
        XCTAssertNil(try store.verifyChain(.messageEvents).firstBreak)
    }

    /// A receipt for an attempt whose lease another worker took over, or that went back to the
    /// queue, is recorded; the other worker's outcome then finds the message Delivered.
    func testAReceiptAfterTheLeaseWasLostIsRecorded() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("taken", at: t0))
        _ = try store.enqueueOutbound(outbound("queued", at: t0))
        XCTAssertEqual(try store.claimDue(now: t0, limit: 2, owner: "w1", lease: 30).count, 2)
        XCTAssertEqual(try store.reclaimExpiredLeases(now: t0 + 30), 2)
        _ = try store.claimDue(now: t0 + 31, limit: 1, owner: "w2", lease: 30)
        XCTAssertEqual(try store.findMessage(id: "taken", direction: .outbound)?.outbound?.leaseOwner, "w2")

        try store.markDelivered(messageId: "taken", owner: "w1", receipt: receipt, at: t0 + 32)
        let taken = try XCTUnwrap(try store.findMessage(id: "taken", direction: .outbound))
        XCTAssertEqual(taken.status, .delivered)
        XCTAssertNil(taken.outbound?.leaseOwner)
        XCTAssertEqual(try store.events(for: taken.rowId).last?.detail, "receipt (4 bytes) accepted by w1 after its lease passed to w2")
        assertThrows(.illegalTransition(messageId: "taken", from: .delivered, to: .submitted)) {
            try store.markRetry(messageId: "taken", owner: "w2", error: DeliveryError(code: "c", reason: "r"), nextAttemptAt: t0 + 40, at: t0 + 33)
        }

        try store.markDelivered(messageId: "queued", owner: "w1", receipt: receipt, at: t0 + 34)
        let queued = try XCTUnwrap(try store.findMessage(id: "queued", direction: .outbound))
        XCTAssertEqual(queued.status, .delivered)
        XCTAssertEqual(try store.events(for: queued.rowId).last?.code, "late-receipt")
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 0, sending: 0))

        // A message never sent has no receipt of ours to record.
        _ = try store.enqueueOutbound(outbound("never", at: t0))
        assertThrows(.illegalTransition(messageId: "never", from: .submitted, to: .delivered)) {
            try store.markDelivered(messageId: "never", owner: "w1", receipt: receipt, at: t0 + 35)
        }
    }

    /// The receiver's signed error for an attempt the queue gave up on: it fails a message
    /// queued again, replaces the reason of a failed one, and leaves a delivered one Delivered;
    /// each time it is the last error and a late-error event says what had happened.
    func testAnErrorAfterTheAttemptWasGivenUpIsRecorded() throws {
        let store = try openStore()
        defer { store.close() }
        let refused = DeliveryError(code: "EBMS:0004", reason: "the receiver answered EBMS:0004 Other: payload unreadable")
        for id in ["lapsed", "failed", "delivered"] {
            _ = try store.enqueueOutbound(outbound(id, at: t0, maxAttempts: id == "failed" ? 1 : 3, pullMPC: "urn:mpc"))
            _ = try XCTUnwrap(try store.nextForPull(mpc: "urn:mpc", receivers: ["urn:ap:red"], now: t0, owner: "pull:red", lease: 60))
        }
        try store.markDelivered(messageId: "delivered", owner: "pull:red", receipt: receipt, at: t0 + 1)
        XCTAssertEqual(try store.reclaimExpiredLeases(now: t0 + 60), 2)
        XCTAssertEqual(try store.findMessage(id: "lapsed", direction: .outbound)?.status, .submitted)
        XCTAssertEqual(try store.findMessage(id: "failed", direction: .outbound)?.outbound?.lastError?.code, "EBMS:0301")

        XCTAssertEqual(try store.recordAttemptError(messageId: "lapsed", owner: "pull:red", error: refused, at: t0 + 61), .failed)
        let lapsed = try XCTUnwrap(try store.findMessage(id: "lapsed", direction: .outbound))
        XCTAssertEqual(lapsed.status, .failed)
        XCTAssertEqual(lapsed.outbound?.lastError, refused)
        XCTAssertNil(lapsed.outbound?.leaseOwner)
        let lapsedEvent = try XCTUnwrap(try store.events(for: lapsed.rowId).last)
        XCTAssertEqual(lapsedEvent.status, .failed)
        XCTAssertEqual(lapsedEvent.code, "late-error")
        XCTAssertEqual(lapsedEvent.detail, "EBMS:0004: the receiver answered EBMS:0004 Other: payload unreadable (answering the attempt of pull:red)"
                       + " after its lease ran out or was released (attempt 1 made)")
        XCTAssertNil(try store.nextForPull(mpc: "urn:mpc", receivers: ["urn:ap:red"], now: t0 + 1_000, owner: "pull:red", lease: 60),
                     "not pulled again")

        XCTAssertEqual(try store.recordAttemptError(messageId: "failed", owner: "pull:red", error: refused, at: t0 + 62), .failed)
        let failed = try XCTUnwrap(try store.findMessage(id: "failed", direction: .outbound))
        XCTAssertEqual(failed.outbound?.lastError, refused)
        let failedEvent = try XCTUnwrap(try store.events(for: failed.rowId).last)
        XCTAssertEqual(failedEvent.status, .failed)
        XCTAssertEqual(failedEvent.code, "late-error")
        XCTAssertTrue(failedEvent.detail?.hasSuffix("after the message was failed (EBMS:0301: no receipt after 1 attempt(s); the last lease expired)") ?? false,
                      failedEvent.detail ?? "")

        XCTAssertEqual(try store.recordAttemptError(messageId: "delivered", owner: "pull:red", error: refused, at: t0 + 63), .delivered)
        let delivered = try XCTUnwrap(try store.findMessage(id: "delivered", direction: .outbound))
        XCTAssertEqual(delivered.status, .delivered)
        XCTAssertEqual(delivered.receipt, receipt, "the receipt stays the evidence")
        XCTAssertEqual(delivered.receiptAt, t0 + 1)
        XCTAssertEqual(delivered.outbound?.lastError, refused)
        let deliveredEvent = try XCTUnwrap(try store.events(for: delivered.rowId).last)
        XCTAssertEqual(deliveredEvent.status, .delivered)
        XCTAssertEqual(deliveredEvent.code, "late-error")
        XCTAssertTrue(deliveredEvent.detail?.hasSuffix("after the message was delivered; its receipt stays the evidence") ?? false,
                      deliveredEvent.detail ?? "")
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 0, sending: 0))
        XCTAssertNil(try store.verifyChain(.messageEvents).firstBreak)
    }

    /// The lease holder's own attempt is failed as `markFailed` fails it; another owner's attempt
    /// in flight and a message never attempted are refused, and nothing changes.
    func testAnErrorForAnAttemptInFlightOrNeverMadeIsRefusedOrFailsItAsUsual() throws {
        let store = try openStore()
        defer { store.close() }
        let refused = DeliveryError(code: "EBMS:0004", reason: "refused")
        _ = try store.enqueueOutbound(outbound("held", at: t0))
        _ = try store.enqueueOutbound(outbound("never", at: t0 + 1))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w1", lease: 60)
        assertThrows(.leaseNotHeld(messageId: "held", owner: "w2", holder: "w1")) {
            try store.recordAttemptError(messageId: "held", owner: "w2", error: refused, at: t0 + 1)
        }
        assertThrows(.illegalTransition(messageId: "never", from: .submitted, to: .failed)) {
            try store.recordAttemptError(messageId: "never", owner: "w1", error: refused, at: t0 + 1)
        }
        assertThrows(.notFound(messageId: "none", direction: .outbound)) {
            try store.recordAttemptError(messageId: "none", owner: "w1", error: refused, at: t0 + 1)
        }
        assertThrows(.invalidArgument("empty lease owner")) {
            try store.recordAttemptError(messageId: "held", owner: "", error: refused, at: t0 + 1)
        }
        XCTAssertEqual(try store.findMessage(id: "held", direction: .outbound)?.status, .sending)
        XCTAssertEqual(try store.findMessage(id: "never", direction: .outbound)?.status, .submitted)

        XCTAssertEqual(try store.recordAttemptError(messageId: "held", owner: "w1", error: refused, at: t0 + 2), .failed)
        let held = try XCTUnwrap(try store.findMessage(id: "held", direction: .outbound))
        XCTAssertEqual(held.outbound?.lastError, refused)
        let last = try XCTUnwrap(try store.events(for: held.rowId).last)
        XCTAssertEqual(last.code, "EBMS:0004")
        XCTAssertEqual(last.detail, "refused")
    }

    /// An error the receiver pushed of its own accord (an agreement with asynchronous errors)
    /// answers no attempt of ours: it fails a message waiting for its retry or being sent, and
    /// is kept beside a failure or a receipt; a receipt the attempt in flight brings still wins.
    func testAnErrorTheReceiverPushedIsRecordedWhateverTheQueueIsDoing() throws {
        let store = try openStore()
        defer { store.close() }
        let refused = DeliveryError(code: "EBMS:0004", reason: "the receiver answered EBMS:0004 Other: unreadable")
        let owner = PushedErrorSignal.owner(party: "red")
        for id in ["waiting", "inflight", "failed", "delivered", "never"] { _ = try store.enqueueOutbound(outbound(id, at: t0, maxAttempts: 3)) }
        for _ in 0..<4 { _ = try store.claimDue(now: t0, limit: 1, owner: "w0", lease: 60) }
        _ = try store.markRetry(messageId: "waiting", owner: "w0", error: DeliveryError(code: "EBMS:0301", reason: "no receipt"),
                                nextAttemptAt: t0 + 30, at: t0 + 1)
        try store.markFailed(messageId: "failed", owner: "w0", error: .missingReceipt(attempts: 1), at: t0 + 1)
        try store.markDelivered(messageId: "delivered", owner: "w0", receipt: receipt, at: t0 + 1)
        let never = try XCTUnwrap(try store.findMessage(id: "never", direction: .outbound))
        XCTAssertEqual(never.outbound?.attempts, 0)

        func assertRecorded(_ id: String, _ status: MessageStatus, _ ending: String, file: StaticString = #filePath, line: UInt = #line) throws {
            XCTAssertEqual(try store.recordAttemptError(messageId: id, owner: owner, error: refused, at: t0 + 2), status, file: file, line: line)
            let message = try XCTUnwrap(try store.findMessage(id: id, direction: .outbound), file: file, line: line)
            XCTAssertEqual(message.status, status, file: file, line: line)
            XCTAssertEqual(message.outbound?.lastError, refused, file: file, line: line)
            XCTAssertNil(message.outbound?.leaseOwner, file: file, line: line)
            let last = try XCTUnwrap(try store.events(for: message.rowId).last, file: file, line: line)
            XCTAssertEqual(last.code, "late-error", file: file, line: line)
            XCTAssertEqual(last.detail, "EBMS:0004: the receiver answered EBMS:0004 Other: unreadable (in an error signal red pushed of its own accord)"
                           + ending, file: file, line: line)
        }
        try assertRecorded("waiting", .failed, " after its lease ran out or was released (attempt 1 made)")
        try assertRecorded("inflight", .failed, " while attempt 1 was in flight")
        try assertRecorded("failed", .failed, " after the message was failed (EBMS:0301: no receipt after 1 attempt(s); the last lease expired)")
        try assertRecorded("delivered", .delivered, " after the message was delivered; its receipt stays the evidence")
        XCTAssertEqual(try store.findMessage(id: "delivered", direction: .outbound)?.receipt, receipt)
        assertThrows(.illegalTransition(messageId: "never", from: .submitted, to: .failed)) {
            try store.recordAttemptError(messageId: "never", owner: owner, error: refused, at: t0 + 2)
        }
        assertThrows(.invalidArgument("empty lease owner")) {
            try store.recordAttemptError(messageId: "waiting", owner: PushedErrorSignal.owner(party: ""), error: refused, at: t0 + 2)
        }

        // The attempt that was in flight gets its receipt after all: the proof wins.
        try store.markDelivered(messageId: "inflight", owner: "w0", receipt: receipt, at: t0 + 3)
        XCTAssertEqual(try store.findMessage(id: "inflight", direction: .outbound)?.status, .delivered)
        XCTAssertEqual(try store.claimDue(now: t0 + 1_000, limit: 5, owner: "w1", lease: 60).map(\.metadata.messageId), ["never"])
        XCTAssertNil(try store.verifyChain(.messageEvents).firstBreak)
    }

    /// An operator's retry (or a restart that gave the last attempt back) counts the attempts
    /// afresh, but the sends before it went out: the receiver's error about one is recorded as
    /// it would be on a message waiting for its retry, and fails it. A message never sent has
    /// no such error, retried or not.
    func testAnErrorAboutASendBeforeTheAttemptsWereCountedAfreshIsRecorded() throws {
        let store = try openStore()
        defer { store.close() }
        let refused = DeliveryError(code: "EBMS:0004", reason: "the receiver answered EBMS:0004 Other: unreadable")
        _ = try store.enqueueOutbound(outbound("pushed", at: t0, maxAttempts: 1))
        _ = try store.enqueueOutbound(outbound("pulled", at: t0, maxAttempts: 1, pullMPC: "urn:mpc"))
        _ = try store.enqueueOutbound(outbound("restarted", at: t0, maxAttempts: 1))
        _ = try store.enqueueOutbound(outbound("unsent", at: t0, maxAttempts: 1))
        _ = try XCTUnwrap(try store.claimDue(now: t0, limit: 1, owner: "w0", lease: 60).first)
        try store.markFailed(messageId: "pushed", owner: "w0", error: .missingReceipt(attempts: 1), at: t0 + 1)
        _ = try XCTUnwrap(try store.nextForPull(mpc: "urn:mpc", receivers: ["urn:ap:red"], now: t0, owner: "pull:red", lease: 60))
        XCTAssertEqual(try store.reclaimExpiredLeases(now: t0 + 60), 1)
        try store.markFailed(messageId: "unsent", owner: nil, error: DeliveryError(code: "EBMS:0005", reason: "no route"), at: t0 + 1)
        for id in ["pushed", "pulled", "unsent"] { try store.retryFailed(messageId: id, at: t0 + 61) }
        _ = try XCTUnwrap(try store.claimDue(now: t0 + 61, limit: 1, owner: "n/w0", lease: 60).first)
        XCTAssertEqual(try store.releaseLeases(ownerPrefix: "n/", now: t0 + 62).count, 1)
        for id in ["pushed", "pulled", "restarted", "unsent"] {
            let queued = try XCTUnwrap(try store.findMessage(id: id, direction: .outbound))
            XCTAssertEqual(queued.status, .submitted, id)
            XCTAssertEqual(queued.outbound?.attempts, 0, id)
        }

        let afresh = " after it was queued again with its attempts counted afresh (an operator's retry, or a restart that cut its last attempt off)"
        for (id, owner, answered) in [("pushed", PushedErrorSignal.owner(party: "red"), "(in an error signal red pushed of its own accord)"),
                                      ("pulled", "pull:red", "(answering the attempt of pull:red)"),
                                      ("restarted", PushedErrorSignal.owner(party: "red"), "(in an error signal red pushed of its own accord)")] {
            XCTAssertEqual(try store.recordAttemptError(messageId: id, owner: owner, error: refused, at: t0 + 63), .failed, id)
            let failed = try XCTUnwrap(try store.findMessage(id: id, direction: .outbound))
            XCTAssertEqual(failed.status, .failed, id)
            XCTAssertEqual(failed.outbound?.lastError, refused, id)
            let last = try XCTUnwrap(try store.events(for: failed.rowId).last)
            XCTAssertEqual(last.status, .failed, id)
            XCTAssertEqual(last.code, "late-error", id)
            XCTAssertEqual(last.detail, "EBMS:0004: the receiver answered EBMS:0004 Other: unreadable \(answered)" + afresh, id)
        }
        assertThrows(.illegalTransition(messageId: "unsent", from: .submitted, to: .failed)) {
            try store.recordAttemptError(messageId: "unsent", owner: PushedErrorSignal.owner(party: "red"), error: refused, at: t0 + 63)
        }
        XCTAssertEqual(try store.findMessage(id: "unsent", direction: .outbound)?.outbound?.lastError?.code, "EBMS:0005")
        XCTAssertEqual(try store.claimDue(now: t0 + 1_000, limit: 5, owner: "w1", lease: 60).map(\.metadata.messageId), ["unsent"])
        XCTAssertNil(try store.verifyChain(.messageEvents).firstBreak)
    }

    func testWithdrawingAQueuedMessageFailsIt() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("q", at: t0))
        let deadline = DeliveryError(code: "deadline", reason: "not taken by the deadline")
        XCTAssertEqual(try store.withdraw(messageId: "q", error: deadline, at: t0 + 1), .failed)
        let message = try XCTUnwrap(try store.findMessage(id: "q", direction: .outbound))
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.lastError, deadline)
        XCTAssertEqual(try store.withdraw(messageId: "q", error: deadline, at: t0 + 2), .alreadyFinal(.failed))
        XCTAssertEqual(try store.events(for: message.rowId).map(\.status), [.submitted, .failed])
        assertThrows(.notFound(messageId: "none", direction: .outbound)) {
            try store.withdraw(messageId: "none", error: deadline, at: t0)
        }
    }

    /// Withdrawn while an attempt is in flight: that attempt ends the message one way or the
    /// other, and no further attempt starts, whichever way it would have come.
    func testAWithdrawnMessageInFlightGetsNoFurtherAttempt() throws {
        let store = try openStore()
        defer { store.close() }
        let deadline = DeliveryError(code: "deadline", reason: "not taken by the deadline")
        for id in ["retried", "expired", "restarted"] { _ = try store.enqueueOutbound(outbound(id, at: t0)) }
        XCTAssertEqual(try store.claimDue(now: t0, limit: 2, owner: "node-1/w0", lease: 30).count, 2)
        _ = try store.claimDue(now: t0, limit: 1, owner: "node-2/w0", lease: 300)
        for id in ["retried", "expired", "restarted"] {
            XCTAssertEqual(try store.withdraw(messageId: id, error: deadline, at: t0 + 1), .withdrawnInFlight)
        }
        XCTAssertEqual(try store.withdraw(messageId: "retried", error: deadline, at: t0 + 2), .withdrawnInFlight)
        let retried = try XCTUnwrap(try store.findMessage(id: "retried", direction: .outbound))
        XCTAssertEqual(retried.status, .sending)
        XCTAssertEqual(try store.events(for: retried.rowId).map(\.code), [nil, nil, "withdrawn"], "withdrawn once")

        // The attempt fails: the message fails with the withdrawal's reason, not queued again.
        XCTAssertEqual(try store.markRetry(messageId: "retried", owner: "node-1/w0", error: DeliveryError(code: "EBMS:0005", reason: "timeout"),
                                           nextAttemptAt: t0 + 10, at: t0 + 3), .failed)
        let failed = try XCTUnwrap(try store.findMessage(id: "retried", direction: .outbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError?.code, "deadline")
        XCTAssertEqual(failed.outbound?.lastError?.reason,
                       "not taken by the deadline; the attempt in flight ended without a receipt: EBMS:0005: timeout")

        // Its lease runs out: failed instead of taken over.
        XCTAssertEqual(try store.claimDue(now: t0 + 30, limit: 5, owner: "node-3/w0", lease: 30), [])
        XCTAssertEqual(try store.findMessage(id: "expired", direction: .outbound)?.status, .failed)
        XCTAssertEqual(try store.findMessage(id: "expired", direction: .outbound)?.outbound?.lastError?.code, "deadline")

        // Its node restarts: failed, not queued again (no restart recovery either).
        XCTAssertEqual(try store.releaseLeases(ownerPrefix: "node-2/", now: t0 + 31).count, 1)
        XCTAssertEqual(try store.findMessage(id: "restarted", direction: .outbound)?.status, .failed)
        XCTAssertEqual(try store.findMessage(id: "restarted", direction: .outbound)?.outbound?.lastError?.code, "deadline")

        // A receipt that still comes for the attempt in flight is recorded.
        try store.markDelivered(messageId: "expired", owner: "node-1/w0", receipt: receipt, at: t0 + 40)
        XCTAssertEqual(try store.findMessage(id: "expired", direction: .outbound)?.status, .delivered)
    }

    func testTheReceiptOfAWithdrawnMessagesAttemptDeliversIt() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("w", at: t0))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w0", lease: 60)
        XCTAssertEqual(try store.withdraw(messageId: "w", error: DeliveryError(code: "deadline", reason: "past"), at: t0 + 1), .withdrawnInFlight)
        try store.markDelivered(messageId: "w", owner: "w0", receipt: receipt, at: t0 + 2)
        let message = try XCTUnwrap(try store.findMessage(id: "w", direction: .outbound))
        XCTAssertEqual(message.status, .delivered)
        let last = try XCTUnwrap(try store.events(for: message.rowId).last)
        XCTAssertEqual(last.code, "late-receipt")
        XCTAssertEqual(last.detail, "receipt (4 bytes) accepted by w0 after the message was withdrawn (deadline: past)")
        XCTAssertEqual(try store.withdraw(messageId: "w", error: DeliveryError(code: "deadline", reason: "past"), at: t0 + 3),
                       .alreadyFinal(.delivered))
    }

    /// An operator's re-queue starts the message afresh: the withdrawal and the restart grant
    /// before it no longer count.
    func testAnOperatorRetryEndsTheWithdrawalAndRenewsTheRestartGrant() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("o", at: t0, maxAttempts: 1))
        _ = try store.claimDue(now: t0, limit: 1, owner: "n/w0", lease: 60)
        XCTAssertEqual(try store.releaseLeases(ownerPrefix: "n/", now: t0 + 1).count, 1)
        _ = try store.claimDue(now: t0 + 1, limit: 1, owner: "n/w0", lease: 60)
        XCTAssertEqual(try store.withdraw(messageId: "o", error: DeliveryError(code: "deadline", reason: "past"), at: t0 + 2), .withdrawnInFlight)
        XCTAssertEqual(try store.markRetry(messageId: "o", owner: "n/w0", error: DeliveryError(code: "x", reason: "y"),
                                           nextAttemptAt: t0 + 3, at: t0 + 3), .failed)
        try store.retryFailed(messageId: "o", at: t0 + 4)
        _ = try store.claimDue(now: t0 + 4, limit: 1, owner: "n/w0", lease: 60)
        XCTAssertEqual(try store.releaseLeases(ownerPrefix: "n/", now: t0 + 5).count, 1)
        let message = try XCTUnwrap(try store.findMessage(id: "o", direction: .outbound))
        XCTAssertEqual(message.status, .submitted, "neither the old withdrawal nor the used grant holds it back")
        XCTAssertEqual(try store.events(for: message.rowId).last?.code, "restart-recovery")
    }
}
