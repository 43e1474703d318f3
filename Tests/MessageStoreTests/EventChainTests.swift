import Foundation
@testable import MessageStore
import XCTest

/// The event tables are hash chains: an untouched store verifies, and a row changed, removed or
/// added behind the store's back is found at its own link. Runs on SQLite here and on PostgreSQL
/// in `PostgresEventChainTests` (where several nodes append at once).
class EventChainTests: StoreTestCase {
    let recipient = "_DEFAULT@40003032949"

    /// Three inbound messages with two events each: events 1…6.
    func writeMessageEvents(_ store: any MessageStore) throws {
        for n in 1...3 {
            _ = try store.recordInbound(inbound("in-\(n)", at: t0.addingTimeInterval(Double(n))), duplicateWindow: 3600)
            try store.markHandedOver(messageId: "in-\(n)", at: t0.addingTimeInterval(Double(n) + 0.5))
        }
    }

    /// Two documents, each with one recipient event at insert and one update: document events 1…4.
    func writeDocumentEvents(_ mailbox: any MailboxStore) throws {
        for n in 1...2 {
            let document = NewDocument(messageId: "doc-\(n)", connection: "dms", idempotencyKey: nil, sender: "DVS@90000048472",
                                       metadata: "{}", originParty: nil, originMessageId: nil, files: [],
                                       recipients: [.init(address: recipient, route: .mailbox, status: .accepted)])
            _ = try mailbox.insertDocument(document, notifications: [], at: t0)
            XCTAssertTrue(try mailbox.updateRecipient(RecipientUpdate(messageId: "doc-\(n)", address: recipient, status: .delivered,
                                                                      detail: "read \"quoted\"\n", retrieved: true), at: t0 + 1))
        }
    }

    /// Runs SQL on the test's database as someone with direct access would, append-only
    /// triggers dropped first.
    func tamper(_ sql: String) throws {
        switch Self.backend {
        case .sqlite:
            let c = try rawConnection()
            defer { c.close() }
            try c.execute(script: """
                DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;
                DROP TRIGGER IF EXISTS document_events_no_update; DROP TRIGGER IF EXISTS document_events_no_delete;
                \(sql)
                """)
        case .postgres:
            let c = try PostgresConnection(url: postgresURL)
            defer { c.close() }
            try c.executeScript("""
                ALTER TABLE events DISABLE TRIGGER USER; ALTER TABLE document_events DISABLE TRIGGER USER;
                \(sql)
                """)
        }
    }

    /// The format of docs/EVIDENCE.md, computed independently (Python hashlib): a change to the
    /// serialization would silently break every chain already written.
    func testTheHashFormatIsTheDocumentedOne() {
        XCTAssertEqual(EventChain.hash(table: .documentEvents, id: 7, prevHash: EventChain.genesis,
                                       fields: ["m-1", "_DEFAULT@40003032949", "1790000000123", "Accepted", nil]),
                       "53d9b7962d81b667ad95de7f552270ff99403c0e649aa9d0fc009cc76775ae5c")
        XCTAssertEqual(EventChain.hash(table: .messageEvents, id: 1, prevHash: EventChain.genesis,
                                       fields: ["1", "1750000000000", "in", "Received", nil, "stored; Līgo \"x\"\n"]),
                       "7acb55bdeb0188aab16c358f7c9c0bcda58bc6325a80562f9fd340eb8ddf2eaa")
    }

    func testAnUntouchedStoreVerifiesBothChains() throws {
        let store = try openStore()
        defer { store.close() }
        let mailbox = try openMailboxStore()
        defer { mailbox.close() }
        try writeMessageEvents(store)
        try writeDocumentEvents(mailbox)

        let events = try store.verifyChain(.messageEvents)
        XCTAssertNil(events.firstBreak)
        XCTAssertEqual(events.chained, 6)
        XCTAssertEqual(events.unchained, 0)
        let documents = try store.verifyChain(.documentEvents)
        XCTAssertNil(documents.firstBreak)
        XCTAssertEqual(documents.chained, 4)

        let first = try XCTUnwrap(store.chainedEvents(.messageEvents, after: 0, limit: 1).first)
        XCTAssertEqual(first.prevHash, EventChain.genesis, "the first link starts from the genesis value")
        let ofOne = try store.chainedEvents(.documentEvents, messageId: "doc-2")
        XCTAssertEqual(ofOne.map(\.id), [3, 4])
        XCTAssertEqual(ofOne.last?.prevHash, ofOne.first?.hash)
        XCTAssertEqual(try store.chainedEvents(.messageEvents, messageId: "in-2").map(\.messageId), ["in-2", "in-2"])
    }

    func testAChangedEventIsNamedAtItsOwnLink() throws {
        let store = try openStore()
        defer { store.close() }
        try writeMessageEvents(store)
        try tamper("UPDATE events SET detail = 'nothing happened' WHERE id = 4")
        let report = try store.verifyChain(.messageEvents)
        let broken = try XCTUnwrap(report.firstBreak)
        XCTAssertEqual(broken.eventId, 4)
        XCTAssertEqual(broken.messageId, "in-2")
        XCTAssertEqual(broken.field, "hash")
        XCTAssertNotEqual(broken.expected, broken.found)
        XCTAssertEqual(report.chained, 3, "the links before the change still hold")
    }

    func testAChangedTimeOfADocumentEventIsFound() throws {
        let store = try openStore()
        defer { store.close() }
        let mailbox = try openMailboxStore()
        defer { mailbox.close() }
        try writeDocumentEvents(mailbox)
        try tamper("UPDATE document_events SET at = at + 1 WHERE id = 3")
        let broken = try XCTUnwrap(store.verifyChain(.documentEvents).firstBreak)
        XCTAssertEqual(broken.table, .documentEvents)
        XCTAssertEqual(broken.eventId, 3)
        XCTAssertEqual(broken.messageId, "doc-2")
        XCTAssertEqual(broken.field, "hash")
        XCTAssertNil(try store.verifyChain(.messageEvents).firstBreak, "the other chain is untouched")
    }

    func testARemovedEventBreaksTheNextLink() throws {
        let store = try openStore()
        defer { store.close() }
        try writeMessageEvents(store)
        let removed = try XCTUnwrap(store.chainedEvents(.messageEvents, after: 2, limit: 1).first)
        try tamper("DELETE FROM events WHERE id = 3")
        let broken = try XCTUnwrap(store.verifyChain(.messageEvents).firstBreak)
        XCTAssertEqual(broken.eventId, 4)
        XCTAssertEqual(broken.field, "prev_hash")
        XCTAssertEqual(broken.found, removed.hash, "event 4 still names the removed one")
    }

    func testAnAddedEventIsFoundWhetherItHasAHashOrNot() throws {
        let store = try openStore()
        defer { store.close() }
        try writeMessageEvents(store)
        let last = try XCTUnwrap(store.chainedEvents(.messageEvents, after: 5, limit: 1).first)
        // An insert naming the right predecessor but unable to produce the right hash.
        try tamper("""
            INSERT INTO events (id, message_row, at, direction, status, detail, prev_hash, hash) \(Self.backend == .postgres ? "OVERRIDING SYSTEM VALUE" : "")
            VALUES (7, 1, 0, 'in', 'Delivered', 'forged', '\(last.hash ?? "")', '\(String(repeating: "a", count: 64))')
            """)
        var broken = try XCTUnwrap(store.verifyChain(.messageEvents).firstBreak)
        XCTAssertEqual(broken.eventId, 7)
        XCTAssertEqual(broken.field, "hash")

        // One without any hash, as a plain INSERT would write it.
        try tamper("DELETE FROM events WHERE id = 7")
        XCTAssertNil(try store.verifyChain(.messageEvents).firstBreak, "removing the last row is not visible (docs/EVIDENCE.md)")
        try tamper("""
            INSERT INTO events (id, message_row, at, direction, status, detail) \(Self.backend == .postgres ? "OVERRIDING SYSTEM VALUE" : "")
            VALUES (7, 1, 0, 'in', 'Delivered', 'forged')
            """)
        broken = try XCTUnwrap(store.verifyChain(.messageEvents).firstBreak)
        XCTAssertEqual(broken.eventId, 7)
        XCTAssertEqual(broken.field, "missing hash")
    }

    func testEventsWrittenBeforeTheChainAreCountedAsUnchained() throws {
        let store = try openStore()
        defer { store.close() }
        try writeMessageEvents(store)
        // As if the first six had been written before the migration.
        try tamper("UPDATE events SET prev_hash = NULL, hash = NULL")
        try store.markRetrieved(messageId: "in-1", at: t0 + 10)
        let report = try store.verifyChain(.messageEvents)
        XCTAssertNil(report.firstBreak, "\(String(describing: report.firstBreak))")
        XCTAssertEqual(report.unchained, 6)
        XCTAssertEqual(report.chained, 1, "the first event written after them starts from the genesis value")
        XCTAssertEqual(try store.chainedEvents(.messageEvents, after: 6, limit: 1).first?.prevHash, EventChain.genesis)
    }
}

final class PostgresEventChainTests: EventChainTests {
    override class var backend: StoreBackend { .postgres }
    override func testAnUntouchedStoreVerifiesBothChains() throws { try super.testAnUntouchedStoreVerifiesBothChains() }
    override func testAChangedEventIsNamedAtItsOwnLink() throws { try super.testAChangedEventIsNamedAtItsOwnLink() }
    override func testAChangedTimeOfADocumentEventIsFound() throws { try super.testAChangedTimeOfADocumentEventIsFound() }
    override func testARemovedEventBreaksTheNextLink() throws { try super.testARemovedEventBreaksTheNextLink() }
    override func testAnAddedEventIsFoundWhetherItHasAHashOrNot() throws { try super.testAnAddedEventIsFoundWhetherItHasAHashOrNot() }
    override func testEventsWrittenBeforeTheChainAreCountedAsUnchained() throws { try super.testEventsWrittenBeforeTheChainAreCountedAsUnchained() }

    /// Four nodes (store objects with their own connections) append at once: every event must
    /// chain to a distinct predecessor, so the whole table verifies.
    func testConcurrentNodesNeverChainToTheSamePredecessor() throws {
        let nodes = try (0..<4).map { _ in try openPostgresStore(poolSize: 2) }
        let mailboxes = try (0..<2).map { _ in try openMailboxStore() }
        defer {
            nodes.forEach { $0.close() }
            mailboxes.forEach { $0.close() }
        }
        let t0 = t0, recipient = recipient
        DispatchQueue.concurrentPerform(iterations: 40) { i in
            let node = nodes[i % nodes.count]
            _ = try? node.recordInbound(InboundMessage(metadata: MessageMetadata(
                messageId: "c-\(i)", conversationId: "c", refToMessageId: nil, fromParty: "a", toParty: "b", service: "s",
                action: "x", pmodeId: nil, mpc: nil), parts: [], storedPath: "/x", receivedAt: t0, receipt: nil),
                duplicateWindow: 60)
            try? node.markHandedOver(messageId: "c-\(i)", at: t0 + 1)
            let document = NewDocument(messageId: "d-\(i)", connection: "dms", idempotencyKey: nil, sender: "DVS@90000048472",
                                       metadata: "{}", originParty: nil, originMessageId: nil, files: [],
                                       recipients: [.init(address: recipient, route: .mailbox, status: .accepted)])
            _ = try? mailboxes[i % 2].insertDocument(document, notifications: [], at: t0)
            _ = try? mailboxes[(i + 1) % 2].updateRecipient(RecipientUpdate(messageId: "d-\(i)", address: recipient,
                                                                            status: .delivered, retrieved: true), at: t0 + 1)
        }
        let events = try nodes[0].verifyChain(.messageEvents)
        XCTAssertNil(events.firstBreak, "\(String(describing: events.firstBreak))")
        XCTAssertEqual(events.chained, 80)
        let documents = try nodes[0].verifyChain(.documentEvents)
        XCTAssertNil(documents.firstBreak, "\(String(describing: documents.firstBreak))")
        XCTAssertEqual(documents.chained, 80)
    }
}
