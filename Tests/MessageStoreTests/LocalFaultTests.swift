import Foundation
import MessageStore
import XCTest

/// `releaseAfterLocalFault`: the sending node could not read the message's own file. The attempt
/// the claim counted is given back and no peer error is recorded; only a file that stays
/// unreadable for the bound, with no attempt reading it in between, fails the message, with its
/// own code.
class LocalFaultTests: StoreTestCase {
    let unreadable = "/msgs/m.mime: cannot open it: No such file or directory"

    func testTheAttemptIsGivenBackAndTheMessageReleased() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m", at: t0, maxAttempts: 2))
        XCTAssertEqual(try store.claimDue(now: t0, limit: 1, owner: "node-1/w0", lease: 30).map(\.attempt), [1])
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "node-1/w0", reason: unreadable, retryAt: t0 + 15,
                                                        giveUpAfter: 3600, at: t0 + 1), .submitted)
        var message = try XCTUnwrap(store.findMessage(id: "m", direction: .outbound))
        XCTAssertEqual(message.status, .submitted)
        XCTAssertEqual(message.outbound?.attempts, 0, "the claim's attempt is given back")
        XCTAssertEqual(message.outbound?.nextAttemptAt, t0 + 15)
        XCTAssertNil(message.outbound?.leaseOwner)
        XCTAssertEqual(message.outbound?.lastError?.code, DeliveryError.localStorageCode)
        XCTAssertTrue(message.outbound?.lastError?.reason.contains("node-1/w0") == true)
        let event = try XCTUnwrap(store.events(for: message.rowId).last)
        XCTAssertEqual(event.status, .submitted)
        XCTAssertEqual(event.code, DeliveryError.localStorageCode)
        XCTAssertTrue(event.detail?.hasPrefix("attempt 1/2 not counted: node-1/w0 could not read the message file") == true, event.detail ?? "")

        // Another node takes it when due; unreadable again, and again, it never spends the budget.
        XCTAssertEqual(try store.claimDue(now: t0 + 14, limit: 1, owner: "node-2/w0", lease: 30), [])
        for round in 1...3 {
            let at = t0 + Double(15 * round)
            XCTAssertEqual(try store.claimDue(now: at, limit: 1, owner: "node-2/w0", lease: 30).map(\.attempt), [1])
            XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "node-2/w0", reason: unreadable, retryAt: at + 15,
                                                            giveUpAfter: 3600, at: at + 1), .submitted)
        }
        // A node that reads it tries the peer: attempts count from 1 as for a fresh message.
        let jobs = try store.claimDue(now: t0 + 60, limit: 1, owner: "node-3/w0", lease: 30)
        XCTAssertEqual(jobs.map(\.attempt), [1])
        try store.markDelivered(messageId: "m", owner: "node-3/w0", receipt: Data("r".utf8), at: t0 + 61)
        message = try XCTUnwrap(store.findMessage(id: "m", direction: .outbound))
        XCTAssertEqual(message.status, .delivered)
    }

    func testAFileUnreadableBeyondTheBoundFailsTheMessageWithALocalReason() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m", at: t0, maxAttempts: 5))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: unreadable, retryAt: t0 + 10,
                                                        giveUpAfter: 60, at: t0), .submitted)
        _ = try store.claimDue(now: t0 + 30, limit: 1, owner: "w", lease: 30)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: unreadable, retryAt: t0 + 40,
                                                        giveUpAfter: 60, at: t0 + 30), .submitted)
        _ = try store.claimDue(now: t0 + 60, limit: 1, owner: "w", lease: 30)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: unreadable, retryAt: t0 + 70,
                                                        giveUpAfter: 60, at: t0 + 60), .failed, "60 s since the first release")
        let message = try XCTUnwrap(store.findMessage(id: "m", direction: .outbound))
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.lastError?.code, DeliveryError.localStorageCode)
        let reason = message.outbound?.lastError?.reason ?? ""
        XCTAssertTrue(reason.contains("could not be read by the sending node(s) since 2025-06-15T15:06:40.000Z"), reason)
        XCTAssertTrue(reason.contains("the peer was not tried"), reason)
        XCTAssertFalse(try store.events(for: message.rowId).contains { $0.code == "EBMS:0005" || $0.code == "EBMS:0301" })
    }

    /// An attempt that read the file (the peer then failed) ends the run of unreadable releases:
    /// the bound counts from the next one.
    func testAnAttemptThatReadTheFileStartsTheBoundAfresh() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m", at: t0, maxAttempts: 5))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)
        try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: unreadable, retryAt: t0 + 10, giveUpAfter: 60, at: t0)
        _ = try store.claimDue(now: t0 + 50, limit: 1, owner: "w", lease: 30)
        try store.markRetry(messageId: "m", owner: "w", error: DeliveryError(code: "EBMS:0005", reason: "refused"), nextAttemptAt: t0 + 55,
                            at: t0 + 50)
        _ = try store.claimDue(now: t0 + 55, limit: 1, owner: "w", lease: 30)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: unreadable, retryAt: t0 + 70,
                                                        giveUpAfter: 60, at: t0 + 70), .submitted)
        let message = try XCTUnwrap(store.findMessage(id: "m", direction: .outbound))
        XCTAssertEqual(message.outbound?.attempts, 1, "the peer's failed attempt counts, the unreadable ones do not")
        _ = try store.claimDue(now: t0 + 115, limit: 1, owner: "w", lease: 30)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: unreadable, retryAt: t0 + 140,
                                                        giveUpAfter: 60, at: t0 + 130), .failed)
    }

    /// A withdrawal promises no further attempt: an unreadable file at the end of the withdrawn
    /// message's attempt fails it with the withdrawal's reason instead of queueing it again.
    func testAWithdrawnMessageWhoseFileIsUnreadableFailsInsteadOfReturning() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m", at: t0, maxAttempts: 3))
        _ = try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)
        let deadline = DeliveryError(code: "deadline", reason: "not taken by the deadline")
        XCTAssertEqual(try store.withdraw(messageId: "m", error: deadline, at: t0 + 1), .withdrawnInFlight)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: unreadable, retryAt: t0 + 15,
                                                        giveUpAfter: 3600, at: t0 + 2), .failed)
        let message = try XCTUnwrap(store.findMessage(id: "m", direction: .outbound))
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.attempts, 1)
        XCTAssertNil(message.outbound?.leaseOwner)
        XCTAssertEqual(message.outbound?.lastError?.code, "deadline")
        XCTAssertEqual(message.outbound?.lastError?.reason, "not taken by the deadline; the attempt in flight ended without a receipt: "
                       + "local-storage: message file \(message.outbound?.messagePath ?? "?") unreadable on w: \(unreadable)")
        XCTAssertEqual(try store.events(for: message.rowId).map(\.status), [.submitted, .sending, .sending, .failed])
        XCTAssertEqual(try store.claimDue(now: t0 + 20, limit: 1, owner: "w", lease: 30), [])
    }

    /// A restart that recovers a cut-off last attempt says nothing about the file: the bound
    /// still counts from the first unreadable release.
    func testARestartDoesNotStartTheBoundAfresh() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m", at: t0, maxAttempts: 1))
        _ = try store.claimDue(now: t0, limit: 1, owner: "node-1/w0", lease: 30)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "node-1/w0", reason: unreadable, retryAt: t0 + 10,
                                                        giveUpAfter: 60, at: t0), .submitted)
        _ = try store.claimDue(now: t0 + 30, limit: 1, owner: "node-1/w0", lease: 30)
        XCTAssertEqual(try store.releaseLeases(ownerPrefix: "node-1/", now: t0 + 31).count, 1)
        var message = try XCTUnwrap(store.findMessage(id: "m", direction: .outbound))
        XCTAssertEqual(try store.events(for: message.rowId).last?.code, "restart-recovery")
        XCTAssertEqual(try store.claimDue(now: t0 + 60, limit: 1, owner: "node-1/w0", lease: 30).count, 1)
        XCTAssertEqual(try store.releaseAfterLocalFault(messageId: "m", owner: "node-1/w0", reason: unreadable, retryAt: t0 + 75,
                                                        giveUpAfter: 60, at: t0 + 60), .failed, "60 s since the first release")
        message = try XCTUnwrap(store.findMessage(id: "m", direction: .outbound))
        XCTAssertEqual(message.outbound?.lastError?.code, DeliveryError.localStorageCode)
    }

    func testOnlyTheLeaseOwnerReleases() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m", at: t0))
        assertThrows(.illegalTransition(messageId: "m", from: .submitted, to: .submitted)) {
            try store.releaseAfterLocalFault(messageId: "m", owner: "w", reason: "x", retryAt: t0, giveUpAfter: 60, at: t0)
        }
        _ = try store.claimDue(now: t0, limit: 1, owner: "w", lease: 30)
        assertThrows(.leaseNotHeld(messageId: "m", owner: "other", holder: "w")) {
            try store.releaseAfterLocalFault(messageId: "m", owner: "other", reason: "x", retryAt: t0, giveUpAfter: 60, at: t0)
        }
    }
}
