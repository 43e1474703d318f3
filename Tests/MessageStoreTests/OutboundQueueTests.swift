import Foundation
import MessageStore
import XCTest

class OutboundQueueTests: StoreTestCase {
    func testEnqueueThenClaimLeasesTheDueMessagesInOrder() throws {
        let store = try openStore()
        defer { store.close() }
        var first = outbound("a", at: t0)
        first.parts = [part(1), part(2)]
        let rowId = try store.enqueueOutbound(first)
        _ = try store.enqueueOutbound(outbound("b", at: t0 + 1))
        var later = outbound("c", at: t0)
        later.firstAttemptAt = t0 + 20
        _ = try store.enqueueOutbound(later)

        let queued = try XCTUnwrap(try store.findMessage(id: "a", direction: .outbound))
        XCTAssertEqual(queued.status, .submitted)
        XCTAssertEqual(queued.outbound?.nextAttemptAt, t0)
        XCTAssertEqual(queued.outbound?.attempts, 0)
        XCTAssertEqual(queued.parts, [part(1), part(2)])
        XCTAssertEqual(queued.outbound?.sentReferences, ##"[{"uri":"#_body","digest":"AAAA"}]"##)
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 3, sending: 0))

        let jobs = try store.claimDue(now: t0 + 10, limit: 10, owner: "w1", lease: 30)
        XCTAssertEqual(jobs.map(\.metadata.messageId), ["a", "b"], "c is not due yet")
        let job = try XCTUnwrap(jobs.first)
        XCTAssertEqual(job.rowId, rowId)
        XCTAssertEqual(job.attempt, 1)
        XCTAssertEqual(job.maxAttempts, 3)
        XCTAssertEqual(job.owner, "w1")
        XCTAssertEqual(job.leaseUntil, t0 + 40)
        XCTAssertEqual(job.endpoint, "https://red.example/as4")
        XCTAssertEqual(job.messagePath, "/msgs/a.mime")
        XCTAssertEqual(job.contentType, "multipart/related; boundary=b")
        XCTAssertFalse(job.isLastAttempt)

        XCTAssertEqual(try store.claimDue(now: t0 + 10, limit: 10, owner: "w2", lease: 30), [], "leased rows are not free")
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 1, sending: 2))
        XCTAssertEqual(try store.oldestQueuedAge(now: t0 + 10), 10)
        XCTAssertEqual(try store.claimDue(now: t0 + 20, limit: 10, owner: "w2", lease: 30).map(\.metadata.messageId), ["c"])
    }

    /// Queued and leased in one commit (a submission handed to an idle worker): the same row,
    /// events and job a queue-then-claim gives, and nobody else can claim it.
    func testEnqueueLeasedToAnOwnerIsAlreadyClaimed() throws {
        let store = try openStore()
        defer { store.close() }
        var message = outbound("h", at: t0)
        message.parts = [part(1)]
        let job = try store.enqueueOutbound(message, leasingTo: "node/w3", lease: 30, now: t0 + 1)
        XCTAssertEqual(job.metadata.messageId, "h")
        XCTAssertEqual(job.owner, "node/w3")
        XCTAssertEqual(job.attempt, 1)
        XCTAssertEqual(job.leaseUntil, t0 + 31)
        XCTAssertEqual(job.endpoint, "https://red.example/as4")
        let stored = try XCTUnwrap(try store.findMessage(id: "h", direction: .outbound))
        XCTAssertEqual(stored.status, .sending)
        XCTAssertEqual(stored.outbound?.attempts, 1)
        XCTAssertEqual(stored.parts, [part(1)])
        XCTAssertEqual(try store.events(for: stored.rowId).map(\.status), [.submitted, .sending])
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 0, sending: 1))
        XCTAssertEqual(try store.claimDue(now: t0 + 2, limit: 10, owner: "node/w1", lease: 30), [], "leased: not claimable")
        assertThrows(.duplicateMessageId("h")) { try store.enqueueOutbound(outbound("h", at: t0)) }
        assertThrows(.duplicateMessageId("h")) { try store.enqueueOutbound(outbound("h", at: t0), leasingTo: "node/w1", lease: 30, now: t0) }

        // Only the owner reports a failed attempt; a lease left to expire is taken over like any other.
        assertThrows(.leaseNotHeld(messageId: "h", owner: "node/w1", holder: "node/w3")) {
            try store.markRetry(messageId: "h", owner: "node/w1", error: DeliveryError(code: "c", reason: "r"), nextAttemptAt: t0 + 3, at: t0 + 3)
        }
        XCTAssertEqual(try store.claimDue(now: t0 + 32, limit: 10, owner: "node/w1", lease: 30).map(\.attempt), [2])
        try store.markDelivered(messageId: "h", owner: "node/w1", receipt: Data("r".utf8), at: t0 + 33)
        XCTAssertEqual(try store.findMessage(id: "h", direction: .outbound)?.status, .delivered)
        XCTAssertNil(try store.verifyChain(.messageEvents).firstBreak)
    }

    /// Only a push message due now can be leased as it is queued; nothing is stored otherwise.
    func testEnqueueLeasedRefusesPullAndLaterMessages() throws {
        let store = try openStore()
        defer { store.close() }
        let pull = outbound("p", at: t0, pullMPC: "urn:mpc:b")
        assertThrows(.invalidArgument("message p: a pull message waits for its PullRequest")) {
            try store.enqueueOutbound(pull, leasingTo: "node/w0", lease: 30, now: t0)
        }
        var later = outbound("l", at: t0)
        later.firstAttemptAt = t0 + 60
        XCTAssertThrowsError(try store.enqueueOutbound(later, leasingTo: "node/w0", lease: 30, now: t0))
        assertThrows(.invalidArgument("empty lease owner")) { try store.enqueueOutbound(outbound("o", at: t0), leasingTo: "", lease: 30, now: t0) }
        XCTAssertNil(try store.findMessage(id: "p", direction: .outbound))
        XCTAssertNil(try store.findMessage(id: "l", direction: .outbound))
        XCTAssertNil(try store.findMessage(id: "o", direction: .outbound))
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 0, sending: 0))
    }

    func testDuplicateOutboundIdIsRefused() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("x", at: t0))
        assertThrows(.duplicateMessageId("x")) { try store.enqueueOutbound(outbound("x", at: t0 + 1)) }
        var noTarget = outbound("y", at: t0)
        noTarget.endpoint = nil
        assertThrows(.invalidArgument("message y: neither an endpoint nor a pull MPC")) { try store.enqueueOutbound(noTarget) }
        assertThrows(.invalidArgument("maxAttempts must be at least 1")) {
            try store.enqueueOutbound(outbound("z", at: t0, maxAttempts: 0))
        }
    }

    func testRetryThenDeliver() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("r", at: t0))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w1", lease: 30)
        let error = DeliveryError(code: "http-503", reason: "Service Unavailable")
        XCTAssertEqual(try store.markRetry(messageId: "r", owner: "w1", error: error, nextAttemptAt: t0 + 60, at: t0 + 5),
                       .submitted)
        var message = try XCTUnwrap(try store.findMessage(id: "r", direction: .outbound))
        XCTAssertEqual(message.status, .submitted)
        XCTAssertEqual(message.outbound?.lastError, error)
        XCTAssertEqual(message.outbound?.nextAttemptAt, t0 + 60)
        XCTAssertNil(message.outbound?.leaseOwner)

        XCTAssertEqual(try store.claimDue(now: t0 + 59, limit: 1, owner: "w2", lease: 30), [], "not before next_attempt_at")
        let second = try XCTUnwrap(try store.claimDue(now: t0 + 60, limit: 1, owner: "w2", lease: 30).first)
        XCTAssertEqual(second.attempt, 2)
        assertThrows(.leaseNotHeld(messageId: "r", owner: "w1", holder: "w2")) {
            try store.markFailed(messageId: "r", owner: "w1", error: error, at: t0 + 61)
        }
        try store.markDelivered(messageId: "r", owner: "w2", receipt: Data("rcpt".utf8), at: t0 + 62)

        message = try XCTUnwrap(try store.findMessage(id: "r", direction: .outbound))
        XCTAssertEqual(message.status, .delivered)
        XCTAssertEqual(message.receipt, Data("rcpt".utf8))
        XCTAssertEqual(message.receiptAt, t0 + 62)
        XCTAssertNil(message.outbound?.leaseOwner)
        XCTAssertEqual(message.outbound?.attempts, 2)
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 0, sending: 0))
        XCTAssertNil(try store.oldestQueuedAge(now: t0 + 100))

        let events = try store.events(for: message.rowId)
        XCTAssertEqual(events.map(\.status), [.submitted, .sending, .submitted, .sending, .delivered])
        XCTAssertEqual(events[2].code, "http-503")
        XCTAssertEqual(events.map(\.at), [t0, t0, t0 + 5, t0 + 60, t0 + 62])
    }

    func testFailureKeepsTheReason() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("f", at: t0))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w1", lease: 30)
        let error = DeliveryError(code: "EBMS:0004", reason: "receiver refused: unknown P-Mode")
        assertThrows(.leaseNotHeld(messageId: "f", owner: nil, holder: "w1")) {
            try store.markFailed(messageId: "f", owner: nil, error: error, at: t0 + 1)
        }
        try store.markFailed(messageId: "f", owner: "w1", error: error, at: t0 + 1)
        let message = try XCTUnwrap(try store.findMessage(id: "f", direction: .outbound))
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.lastError, error)
        XCTAssertEqual(try store.events(for: message.rowId).last?.detail, "receiver refused: unknown P-Mode")
        XCTAssertEqual(try store.claimDue(now: t0 + 1000, limit: 1, owner: "w1", lease: 30), [])

        // A message not yet leased can be failed by anyone (no route, cancelled).
        _ = try store.enqueueOutbound(outbound("g", at: t0))
        try store.markFailed(messageId: "g", owner: nil, error: DeliveryError(code: "no-route", reason: "none"), at: t0)
        XCTAssertEqual(try store.findMessage(id: "g", direction: .outbound)?.status, .failed)
    }

    func testRetryBudgetExhaustedFailsTheMessage() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("b", at: t0, maxAttempts: 2))
        let error = DeliveryError(code: "http-502", reason: "Bad Gateway")
        XCTAssertFalse(try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)[0].isLastAttempt)
        XCTAssertEqual(try store.markRetry(messageId: "b", owner: "w", error: error, nextAttemptAt: t0 + 10, at: t0 + 1), .submitted)
        XCTAssertTrue(try store.claimDue(now: t0 + 10, limit: 1, owner: "w", lease: 30)[0].isLastAttempt)
        XCTAssertEqual(try store.markRetry(messageId: "b", owner: "w", error: error, nextAttemptAt: t0 + 20, at: t0 + 11), .failed)
        let message = try XCTUnwrap(try store.findMessage(id: "b", direction: .outbound))
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.lastError?.code, "http-502")
        XCTAssertEqual(message.outbound?.lastError?.reason, "retry budget exhausted (2/2): Bad Gateway")
    }

    func testAnExpiredLeaseIsTakenOverByAnotherClaimer() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("e", at: t0))
        _ = try store.claimDue(now: t0, limit: 1, owner: "crashed", lease: 30)
        XCTAssertEqual(try store.claimDue(now: t0 + 29.999, limit: 1, owner: "w2", lease: 30), [], "lease still running")
        let job = try XCTUnwrap(try store.claimDue(now: t0 + 30, limit: 1, owner: "w2", lease: 30).first)
        XCTAssertEqual(job.attempt, 2)
        XCTAssertEqual(job.owner, "w2")
        assertThrows(.leaseNotHeld(messageId: "e", owner: "crashed", holder: "w2")) {
            try store.markRetry(messageId: "e", owner: "crashed", error: DeliveryError(code: "x", reason: "y"),
                                nextAttemptAt: t0 + 31, at: t0 + 31)
        }
        let events = try store.events(for: job.rowId)
        XCTAssertEqual(events.map(\.status), [.submitted, .sending, .sending])
        XCTAssertTrue(events.last?.detail?.contains("lease of crashed expired") ?? false, events.last?.detail ?? "")
    }

    /// A restarted node takes back what it held: a message with attempts left is queued again;
    /// one whose last attempt was cut off is queued again with that attempt not counted, once,
    /// and fails (MissingReceipt) when its last attempt is cut off a second time; another node's
    /// lease is untouched.
    func testReleasedLeasesAreQueuedAgainOrFailWhenTheLastAttemptWasCutOff() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("more", at: t0, maxAttempts: 3))
        _ = try store.enqueueOutbound(outbound("last", at: t0, maxAttempts: 1))
        _ = try store.enqueueOutbound(outbound("other", at: t0 + 1, maxAttempts: 1))
        XCTAssertEqual(try store.claimDue(now: t0 + 1, limit: 2, owner: "gw-a@node-1/w0", lease: 300).count, 2)
        XCTAssertEqual(try store.claimDue(now: t0 + 1, limit: 1, owner: "gw-a@node-2/w0", lease: 300).count, 1)
        XCTAssertEqual(try store.releaseLeases(ownerPrefix: "gw-a@node-1/", now: t0 + 2), ["more", "last"])
        XCTAssertEqual(try store.findMessage(id: "more", direction: .outbound)?.status, .submitted)
        var last = try XCTUnwrap(try store.findMessage(id: "last", direction: .outbound))
        XCTAssertEqual(last.status, .submitted, "its cut-off last attempt is not counted")
        XCTAssertEqual(last.outbound?.attempts, 0)
        XCTAssertEqual(try store.events(for: last.rowId).last?.code, "restart-recovery")
        XCTAssertEqual(try store.findMessage(id: "other", direction: .outbound)?.status, .sending, "another node's lease stays")
        let resumed = try store.claimDue(now: t0 + 3, limit: 5, owner: "gw-a@node-1/w0", lease: 10)
        XCTAssertEqual(resumed.map(\.metadata.messageId), ["more", "last"])
        XCTAssertEqual(resumed.map(\.afterOperatorRetry), [false, false], "a restart's attempt given back is no operator's retry")
        XCTAssertEqual(try store.releaseLeases(ownerPrefix: "gw-a@node-1/", now: t0 + 4).count, 2)
        last = try XCTUnwrap(try store.findMessage(id: "last", direction: .outbound))
        XCTAssertEqual(last.status, .failed, "a second cut-off last attempt is counted")
        XCTAssertEqual(last.outbound?.lastError?.code, "EBMS:0301")
        try store.retryFailed(messageId: "last", at: t0 + 4)
        XCTAssertEqual(try store.findMessage(id: "last", direction: .outbound)?.status, .submitted, "an operator can send it again")
        // Its next attempt is told apart, so the daemon can say it took the message up again.
        let again = try store.claimDue(now: t0 + 5, limit: 5, owner: "gw-a@node-1/w0", lease: 10)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: again.map { ($0.metadata.messageId, "\($0.attempt) \($0.afterOperatorRetry)") }),
                       ["more": "3 false", "last": "1 true"])
    }

    func testReclaimExpiredLeases() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("p", at: t0, maxAttempts: 3))
        _ = try store.enqueueOutbound(outbound("q", at: t0, maxAttempts: 1))
        _ = try store.enqueueOutbound(outbound("s", at: t0, maxAttempts: 3))
        XCTAssertEqual(try store.claimDue(now: t0, limit: 2, owner: "gone", lease: 10).count, 2)
        _ = try store.claimDue(now: t0, limit: 1, owner: "alive", lease: 1000)

        XCTAssertEqual(try store.reclaimExpiredLeases(now: t0 + 5), 0)
        XCTAssertEqual(try store.reclaimExpiredLeases(now: t0 + 10), 2)
        let p = try XCTUnwrap(try store.findMessage(id: "p", direction: .outbound))
        XCTAssertEqual(p.status, .submitted)
        XCTAssertEqual(p.outbound?.nextAttemptAt, t0 + 10)
        XCTAssertNil(p.outbound?.leaseOwner)
        XCTAssertEqual(try store.events(for: p.rowId).last?.code, "lease-expired")
        let q = try XCTUnwrap(try store.findMessage(id: "q", direction: .outbound))
        XCTAssertEqual(q.status, .failed, "its only attempt ended without a receipt")
        XCTAssertEqual(q.outbound?.lastError?.code, "EBMS:0301")
        XCTAssertEqual(try store.findMessage(id: "s", direction: .outbound)?.outbound?.leaseOwner, "alive")
        XCTAssertEqual(try store.claimDue(now: t0 + 10, limit: 5, owner: "w", lease: 10).map(\.metadata.messageId), ["p"])
    }

    func testClaimRejectsBadArguments() throws {
        let store = try openStore()
        defer { store.close() }
        assertThrows(.invalidArgument("limit must be positive")) { try store.claimDue(now: t0, limit: 0, owner: "w", lease: 1) }
        assertThrows(.invalidArgument("empty lease owner")) { try store.claimDue(now: t0, limit: 1, owner: "", lease: 1) }
        assertThrows(.invalidArgument("lease must be positive")) { try store.claimDue(now: t0, limit: 1, owner: "w", lease: 0) }
    }
}
