import Foundation
@testable import MessageStore
import Synchronization
import XCTest

/// A request of ours has one Two-Way reply: the store finds it by the request, refuses a second
/// one under another message id, and keeps doing so when replies are recorded at the same moment.
class TwoWayReplyTests: StoreTestCase {
    func reply(_ id: String, to request: String, at date: Date) -> InboundMessage {
        var message = inbound(id, at: date, parts: [part(1)], receipt: Data("receipt of \(id)".utf8))
        message.metadata.refToMessageId = request
        message.isTwoWayReply = true
        return message
    }

    func testASecondReplyIsRefusedAndLeavesNothingBehind() throws {
        let store = try openStore()
        defer { store.close() }
        XCTAssertNil(try store.findReply(toRequest: "req-1@red"))
        guard case let .stored(rowId) = try store.recordInbound(reply("ans-1@blue", to: "req-1@red", at: t0), duplicateWindow: 3600) else {
            return XCTFail("the first reply must be stored")
        }
        let found = try XCTUnwrap(try store.findReply(toRequest: "req-1@red"))
        XCTAssertEqual(found.rowId, rowId)
        XCTAssertEqual(found.metadata.messageId, "ans-1@blue")
        XCTAssertEqual(found.parts, [part(1)])

        let eventsBefore = try store.latestEventId()
        assertThrows(.requestAlreadyAnswered(requestId: "req-1@red", replyId: "ans-1@blue")) {
            try store.recordInbound(reply("ans-2@blue", to: "req-1@red", at: t0 + 5), duplicateWindow: 3600)
        }
        XCTAssertNil(try store.findMessage(id: "ans-2@blue", direction: .inbound), "nothing of the second reply is stored")
        XCTAssertEqual(try store.latestEventId(), eventsBefore, "and no event written")
        XCTAssertEqual(try store.findReply(toRequest: "req-1@red")?.metadata.messageId, "ans-1@blue")

        // The first reply sent again is a duplicate as before, answered with its receipt.
        guard case let .duplicate(original) = try store.recordInbound(reply("ans-1@blue", to: "req-1@red", at: t0 + 9), duplicateWindow: 3600)
        else { return XCTFail("an exact copy of the reply is a duplicate, not a second reply") }
        XCTAssertEqual(original.rowId, rowId)
        XCTAssertEqual(original.receipt, Data("receipt of ans-1@blue".utf8))
    }

    /// Only replies are held to one per request: other messages may name the same message (status
    /// reports about one document), and each request has a reply of its own.
    func testOtherMessagesNamingTheRequestAndRepliesToOtherRequestsAreStored() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.recordInbound(reply("ans-a@blue", to: "req-a@red", at: t0), duplicateWindow: 60)
        _ = try store.recordInbound(reply("ans-b@blue", to: "req-b@red", at: t0), duplicateWindow: 60)
        for n in 1...2 {
            var report = inbound("status-\(n)@blue", at: t0 + Double(n))
            report.metadata.refToMessageId = "req-a@red"
            guard case .stored = try store.recordInbound(report, duplicateWindow: 60) else { return XCTFail("report \(n) not stored") }
        }
        XCTAssertEqual(try store.findReply(toRequest: "req-a@red")?.metadata.messageId, "ans-a@blue")
        XCTAssertEqual(try store.findReply(toRequest: "req-b@red")?.metadata.messageId, "ans-b@blue")

        var bare = reply("ans-c@blue", to: "x", at: t0)
        bare.metadata.refToMessageId = nil
        assertThrows(.invalidArgument("a Two-Way reply without the request it answers (refToMessageId)")) {
            try store.recordInbound(bare, duplicateWindow: 60)
        }
    }

    /// Replies to one request recorded at once through separate store objects (processes on one
    /// SQLite file, nodes on one PostgreSQL database): one is stored, every other one is refused
    /// naming it.
    func testRepliesRecordedAtOnceByManyNodesHaveOneWinner() throws {
        try openStore().close()  // migrated once, before the race
        let stores = try (0..<6).map { _ in try openStore() }
        defer { stores.forEach { $0.close() } }
        let outcomes = Mutex<[String: String]>([:])
        let message = (0..<6).map { reply("race-\($0)@blue", to: "req-race@red", at: t0) }
        DispatchQueue.concurrentPerform(iterations: 6) { n in
            let outcome: String
            do {
                outcome = try stores[n].recordInbound(message[n], duplicateWindow: 60).isStored ? "stored" : "duplicate"
            } catch StoreError.requestAlreadyAnswered(_, let winner) {
                outcome = "refused, answered by \(winner)"
            } catch {
                outcome = "\(error)"
            }
            outcomes.withLock { $0["race-\(n)@blue"] = outcome }
        }
        let all = outcomes.withLock { $0 }
        let winners = all.filter { $0.value == "stored" }.map(\.key)
        XCTAssertEqual(winners.count, 1, "\(all)")
        let winner = try XCTUnwrap(winners.first)
        XCTAssertEqual(all.filter { $0.value == "refused, answered by \(winner)" }.count, 5, "\(all)")
        XCTAssertEqual(try stores[0].findReply(toRequest: "req-race@red")?.metadata.messageId, winner)
        XCTAssertEqual(try stores[0].listMessages(status: nil, since: nil, direction: .inbound, limit: 10).count, 1)
    }

    /// A reply stored before the store kept the link survives the upgrade, unlinked (which of
    /// the old rows were replies is a P-Mode question the database cannot answer).
    func testADatabaseWrittenBeforeTheLinkUpgradesWithItsReplies() throws {
        let added = try XCTUnwrap((Self.backend == .sqlite ? Schema.migrations : PostgresSchema.migrations)
            .first { $0.sql == (Self.backend == .sqlite ? TwoWayReplySchema.sqlite : TwoWayReplySchema.postgres) }?.version)
        try createDatabase(before: added)
        let ms = t0.storeMilliseconds
        try rawSQL("""
            INSERT INTO messages (message_id, direction, status, ref_to_message_id, from_party, to_party, service, action,
                                  created_at, updated_at)
            VALUES ('old-reply', 'in', 'Received', 'req-old@red', 'urn:ap:blue', 'urn:ap:red', 'urn:svc:invoice', 'Answer', \(ms), \(ms))
            """)
        let store = try openStore()
        defer { store.close() }
        XCTAssertEqual(try store.findMessage(id: "old-reply", direction: .inbound)?.metadata.refToMessageId, "req-old@red")
        XCTAssertNil(try store.findReply(toRequest: "req-old@red"))
        guard case .stored = try store.recordInbound(reply("new-reply", to: "req-new@red", at: t0 + 1), duplicateWindow: 60) else {
            return XCTFail("not stored")
        }
        XCTAssertEqual(try store.findReply(toRequest: "req-new@red")?.metadata.messageId, "new-reply")
    }
}

extension InboundResult {
    var isStored: Bool { if case .stored = self { true } else { false } }
}
