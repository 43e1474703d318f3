import Foundation
import MessageStore
import Synchronization
import XCTest

/// `retryIntake`: an operator has a received message whose intake failed taken in again.
class IntakeRetryTests: StoreTestCase {
    func testAFailedIntakeGoesBackToReceivedWithWhoAskedInItsHistory() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.recordInbound(inbound("stuck@blue", at: t0), duplicateWindow: 60)
        let first = DeliveryError(code: "unknownAddress", reason: "no such address; reported Failed to gw-a")
        try store.markIntakeFailed(messageId: "stuck@blue", error: first, at: t0 + 1)
        let mark = try store.latestEventId()

        try store.retryIntake(messageId: "stuck@blue", requestedBy: "cli:alice", at: t0 + 100)
        // Another store object (another process or node) sees it waiting for the backend again.
        let other = try openStore()
        defer { other.close() }
        let waiting = try XCTUnwrap(try other.findMessage(id: "stuck@blue", direction: .inbound))
        XCTAssertEqual(waiting.status, .received)
        XCTAssertNil(waiting.intakeError, "the error belonged to the failed intake; its event keeps it")
        XCTAssertEqual(waiting.updatedAt, t0 + 100)
        let events = try other.events(for: waiting.rowId)
        XCTAssertEqual(events.map(\.status), [.received, .failed, .received])
        XCTAssertEqual(events[1].detail, "not taken in by the backend: \(first.reason)")
        XCTAssertEqual(events[2].code, MessageEvent.intakeRetryRequestedCode)
        XCTAssertEqual(events[2].code, "intake-retry-requested")
        XCTAssertEqual(events[2].detail, "intake to run again, requested by cli:alice; it had failed with unknownAddress")
        XCTAssertEqual(events[2].at, t0 + 100)
        // The history a daemon follows brings it exactly this one event.
        let feed = try other.events(after: mark, limit: 10)
        XCTAssertEqual(feed.map(\.messageId), ["stuck@blue"])
        XCTAssertEqual(feed.map(\.event.code), [MessageEvent.intakeRetryRequestedCode])
        XCTAssertEqual(try other.listMessages(status: .failed, since: nil, direction: .inbound, limit: 10), [])

        // It may fail again, with the new reason, and be retried again; or be taken in.
        let second = DeliveryError(code: "DocumentIdTaken", reason: "held from gw-c")
        try store.markIntakeFailed(messageId: "stuck@blue", error: second, at: t0 + 101)
        XCTAssertEqual(try store.findMessage(id: "stuck@blue", direction: .inbound)?.intakeError, second)
        try store.retryIntake(messageId: "stuck@blue", requestedBy: "cli:bob", at: t0 + 200)
        try store.markHandedOver(messageId: "stuck@blue", at: t0 + 201)
        let done = try XCTUnwrap(try store.findMessage(id: "stuck@blue", direction: .inbound))
        XCTAssertEqual(done.status, .delivered)
        XCTAssertNil(done.intakeError)
        XCTAssertEqual(try store.events(for: done.rowId).map { "\($0.status.rawValue) \($0.code ?? "-")" },
                       ["Received -", "Failed unknownAddress", "Received intake-retry-requested", "Failed DocumentIdTaken",
                        "Received intake-retry-requested", "Delivered -"])
    }

    func testOnlyAnInboundMessageWhoseIntakeFailedIsRetriedAndARefusalChangesNothing() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.recordInbound(inbound("waiting@blue", at: t0), duplicateWindow: 60)
        assertThrows(.illegalTransition(messageId: "waiting@blue", from: .received, to: .received)) {
            try store.retryIntake(messageId: "waiting@blue", requestedBy: "cli:alice", at: t0 + 1)
        }
        try store.markHandedOver(messageId: "waiting@blue", at: t0 + 2)
        assertThrows(.illegalTransition(messageId: "waiting@blue", from: .delivered, to: .received)) {
            try store.retryIntake(messageId: "waiting@blue", requestedBy: "cli:alice", at: t0 + 3)
        }
        try store.markRetrieved(messageId: "waiting@blue", at: t0 + 4)
        assertThrows(.illegalTransition(messageId: "waiting@blue", from: .retrieved, to: .received)) {
            try store.retryIntake(messageId: "waiting@blue", requestedBy: "cli:alice", at: t0 + 5)
        }
        let row = try XCTUnwrap(try store.findMessage(id: "waiting@blue", direction: .inbound)).rowId
        XCTAssertEqual(try store.events(for: row).map(\.status), [.received, .delivered, .retrieved])

        // An outbound Failed message is `messages retry`'s, not this.
        _ = try store.enqueueOutbound(outbound("out@red", at: t0))
        try store.markFailed(messageId: "out@red", owner: nil, error: DeliveryError(code: "c", reason: "r"), at: t0 + 1)
        assertThrows(.notFound(messageId: "out@red", direction: .inbound)) {
            try store.retryIntake(messageId: "out@red", requestedBy: "cli:alice", at: t0 + 2)
        }
        assertThrows(.notFound(messageId: "nothing@blue", direction: .inbound)) {
            try store.retryIntake(messageId: "nothing@blue", requestedBy: "cli:alice", at: t0 + 2)
        }
        // Who asked is part of the record: no anonymous request.
        _ = try store.recordInbound(inbound("failed@blue", at: t0), duplicateWindow: 60)
        let error = DeliveryError(code: "c", reason: "r")
        try store.markIntakeFailed(messageId: "failed@blue", error: error, at: t0 + 1)
        assertThrows(.invalidArgument("an intake retry needs who requested it")) {
            try store.retryIntake(messageId: "failed@blue", requestedBy: " ", at: t0 + 2)
        }
        let failed = try XCTUnwrap(try store.findMessage(id: "failed@blue", direction: .inbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.intakeError, error)
        XCTAssertEqual(try store.events(for: failed.rowId).count, 2)

        // The daemon's own steps still treat an inbound Failed as final.
        XCTAssertFalse(MessageStatus.failed.allows(.received, direction: .inbound))
        XCTAssertTrue(MessageStatus.failed.allowsIntakeRetry(direction: .inbound))
        XCTAssertFalse(MessageStatus.failed.allowsIntakeRetry(direction: .outbound))
        XCTAssertFalse(MessageStatus.received.allowsIntakeRetry(direction: .inbound))
    }

    /// A message the mailbox worker passed over (the store refused its intake and its Failed
    /// mark alike) is Received with no event after the reader's position: the operator's request
    /// appends the retry event the reader acts on, and nothing else. One still waiting for its
    /// intake, one asked for already, and one in another status are refused, changing nothing.
    func testAMessageLeftReceivedBehindTheReaderIsAskedForAgainByAnEventAlone() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.recordInbound(inbound("passed@blue", at: t0), duplicateWindow: 60)
        let row = try XCTUnwrap(try store.findMessage(id: "passed@blue", direction: .inbound)).rowId
        let before = try store.latestEventId()
        assertThrows(.illegalTransition(messageId: "passed@blue", from: .received, to: .received)) {
            try store.retryPassedOverIntake(rowId: row, passedBy: before - 1, requestedBy: "cli:alice", at: t0 + 1)
        }
        assertThrows(.invalidArgument("an intake retry needs who requested it")) {
            try store.retryPassedOverIntake(rowId: row, passedBy: before, requestedBy: " ", at: t0 + 1)
        }
        XCTAssertEqual(try store.events(for: row).count, 1, "a refusal appends nothing")

        try store.retryPassedOverIntake(rowId: row, passedBy: before, requestedBy: "cli:alice", at: t0 + 2)
        let other = try openStore()
        defer { other.close() }
        let waiting = try XCTUnwrap(try other.findMessage(id: "passed@blue", direction: .inbound))
        XCTAssertEqual(waiting.status, .received)
        XCTAssertEqual(waiting.updatedAt, t0, "the row is left as it is")
        let feed = try other.events(after: before, limit: 10)
        XCTAssertEqual(feed.map(\.messageId), ["passed@blue"])
        XCTAssertEqual(feed.map(\.event.code), [MessageEvent.intakeRetryRequestedCode])
        XCTAssertEqual(feed.first?.event.detail, "intake to run again, requested by cli:alice")
        // Asked for already: its new event is after the reader's position.
        assertThrows(.illegalTransition(messageId: "passed@blue", from: .received, to: .received)) {
            try other.retryPassedOverIntake(rowId: row, passedBy: before, requestedBy: "cli:bob", at: t0 + 3)
        }
        try store.markHandedOver(rowId: row, at: t0 + 4)
        assertThrows(.illegalTransition(messageId: "passed@blue", from: .delivered, to: .received)) {
            try store.retryPassedOverIntake(rowId: row, passedBy: Int64.max, requestedBy: "cli:alice", at: t0 + 5)
        }
        XCTAssertEqual(try store.events(for: row).map(\.status), [.received, .received, .delivered])
        _ = try store.enqueueOutbound(outbound("out@red", at: t0))
        let outRow = try XCTUnwrap(try store.findMessage(id: "out@red", direction: .outbound)).rowId
        assertThrows(.notFound(messageId: "row \(outRow)", direction: .inbound)) {
            try store.retryPassedOverIntake(rowId: outRow, passedBy: Int64.max, requestedBy: "cli:alice", at: t0 + 5)
        }
    }

    /// Operators on several nodes asking at once: of the requests for one message one wins, the
    /// others find it waiting already, and the history holds one request, so the intake runs
    /// once. Three store objects (nodes) walk the same messages in the same order, so they meet
    /// on most of them.
    func testRequestsAtOnceFromManyNodesHaveOneWinner() throws {
        let ids = (0..<100).map { "race-\($0)@blue" }
        let setup = try openStore()
        for id in ids {
            _ = try setup.recordInbound(inbound(id, at: t0), duplicateWindow: 60)
            try setup.markIntakeFailed(messageId: id, error: DeliveryError(code: "c", reason: "r"), at: t0 + 1)
        }
        setup.close()
        let wins = Mutex<[String: Int]>([:])
        let errors = Mutex<[String]>([])
        let done = DispatchGroup()
        let at = t0 + 2
        for node in 0..<3 {
            let store = try openStore()
            done.enter()
            let thread = Thread {
                defer { store.close(); done.leave() }
                for id in ids {
                    do {
                        try store.retryIntake(messageId: id, requestedBy: "node-\(node)", at: at)
                        wins.withLock { $0[id, default: 0] += 1 }
                    } catch StoreError.illegalTransition(_, .received, .received) {
                        continue  // another node's request came first
                    } catch {
                        errors.withLock { $0.append("\(id): \(error)") }
                    }
                }
            }
            thread.start()
        }
        done.wait()
        XCTAssertEqual(errors.withLock { $0 }, [])
        let won = wins.withLock { $0 }
        XCTAssertEqual(won.count, ids.count)
        XCTAssertEqual(won.filter { $0.value != 1 }, [:], "a message requested twice")
        let store = try openStore()
        defer { store.close() }
        let requests = try store.events(after: 0, limit: 10_000).filter { $0.event.code == MessageEvent.intakeRetryRequestedCode }
        XCTAssertEqual(requests.count, ids.count)
        XCTAssertEqual(Set(requests.map(\.messageId)).count, ids.count)
    }
}
