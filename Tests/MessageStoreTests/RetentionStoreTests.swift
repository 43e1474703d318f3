import Foundation
@testable import MessageStore
import XCTest

/// Retention in the store: a document cannot be deleted before its `retain_until` or under a
/// legal hold — not by the purge, not by hand-typed SQL (the triggers judge by the database's
/// own clock, whatever `now` a caller passes) — the purge removes the rest and records it in an
/// append-only table, and a mailbox's size follows what it holds.
class RetentionStoreTests: StoreTestCase {
    let sender = "DVS@90000048472", company = "_DEFAULT@40003032949", other = "_DEFAULT@40003000001"
    var mailbox: (any MailboxStore)!
    var retention: (any RetentionStore)!
    /// Real time: the triggers compare with the database's clock, not with the test's `t0`.
    let past = Date(timeIntervalSinceNow: -86_400).rounded, future = Date(timeIntervalSinceNow: 365 * 86_400).rounded

    override func setUpWithError() throws {
        try super.setUpWithError()
        mailbox = try openMailboxStore()
        retention = try openRetentionStore()
    }

    override func tearDownWithError() throws {
        retention.close()
        mailbox.close()
        try super.tearDownWithError()
    }

    func openRetentionStore() throws -> any RetentionStore {
        switch Self.backend {
        case .sqlite: try SQLiteRetentionStore(dataDirectory: dataDirectory, now: t0)
        case .postgres: try PostgresRetentionStore(url: postgresURL, schema: .migrate, now: t0)
        }
    }

    @discardableResult
    func store(_ id: String, until: Date?, to recipients: [String]? = nil, remoteSending: Bool = false) throws -> NewDocument {
        var rs = (recipients ?? [company]).map { NewDocument.Recipient(address: $0, route: .mailbox, status: .accepted) }
        if remoteSending { rs.append(.init(address: other, route: .remote, status: .submitted, party: "gw-b", as4MessageId: "as4-\(id)")) }
        var d = NewDocument(messageId: id, connection: "dms", idempotencyKey: nil, sender: sender, metadata: "{}",
                            files: [file(id, 1), file(id, 2)], recipients: rs)
        d.retainUntil = until
        XCTAssertEqual(try mailbox.insertDocument(d, notifications: [], at: t0), .stored)
        return d
    }

    func file(_ id: String, _ n: Int) -> DocumentFile {
        DocumentFile(name: "f\(n).pdf", mimeType: "application/pdf",
                     file: StoredFile(path: "/p/\(id)/\(n)", size: Int64(n * 100), sha256: String(repeating: "\(n)", count: 64)))
    }

    /// Everything of the document is still there: row, both files, recipients and events.
    func assertIntact(_ id: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let d = try mailbox.document(messageId: id)
        XCTAssertEqual(d?.files.count, 2, file: file, line: line)
        XCTAssertEqual(d?.recipients.isEmpty, false, file: file, line: line)
        XCTAssertEqual(try mailbox.events(messageId: id).isEmpty, false, file: file, line: line)
    }

    func testDeletingBeforeRetentionIsRefusedByTheStoreAndByTheDatabase() throws {
        try store("young", until: future)
        for table in ["document_events", "document_files", "document_recipients", "documents"] {
            XCTAssertThrowsError(try rawSQL("DELETE FROM \(table) WHERE message_id = 'young'"), "DELETE FROM \(table)")
        }
        if Self.backend == .postgres {
            XCTAssertThrowsError(try rawSQL("TRUNCATE documents CASCADE"))
        }
        // Nor by updating rows away: moving them to another message id (then deleting that), or
        // changing what they say.
        XCTAssertThrowsError(try rawSQL("UPDATE document_files SET message_id = 'expired' WHERE message_id = 'young'"))
        XCTAssertThrowsError(try rawSQL("UPDATE document_files SET path = '/dev/null' WHERE message_id = 'young'"))
        XCTAssertThrowsError(try rawSQL("UPDATE document_recipients SET message_id = 'expired' WHERE message_id = 'young'"))
        XCTAssertThrowsError(try rawSQL("UPDATE documents SET sender = 'someone' WHERE message_id = 'young'"))
        XCTAssertThrowsError(try rawSQL("UPDATE documents SET message_id = 'expired' WHERE message_id = 'young'"))
        if Self.backend == .sqlite {
            // REPLACE would delete the row it replaces: refused, whatever the connection's pragmas.
            let shell = try SQLiteConnection(path: dataDirectory + "/messages.sqlite")
            defer { shell.close() }
            try shell.pragma("recursive_triggers = OFF")  // as a plain sqlite3 shell has it
            XCTAssertThrowsError(try shell.run("""
                INSERT OR REPLACE INTO documents (message_id, connection, idempotency_key, sender, metadata, created_at, retain_until)
                VALUES ('young', 'dms', NULL, 'x', '{}', 0, 0)
                """))
            XCTAssertThrowsError(try shell.run("""
                INSERT OR REPLACE INTO document_recipients (id, message_id, address, route, status, updated_at)
                SELECT id, message_id, address, route, status, updated_at FROM document_recipients WHERE message_id = 'young'
                """))
        }
        // What the mailbox changes stays changeable: a recipient's status.
        XCTAssertNoThrow(try rawSQL("UPDATE document_recipients SET status = 'Delivered' WHERE message_id = 'young'"))
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "young", by: "test", now: Date(), carrier: nil)) {
            XCTAssertEqual(($0 as? MailboxStoreError).map { "\($0)" }?.contains("retained until"), true, "\($0)")
        }
        // A caller's clock set past the retention does not help: the triggers use the database's.
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "young", by: "test", now: future + 1, carrier: nil))
        try assertIntact("young")
        XCTAssertEqual(try retention.purges(messageId: "young"), [])
        XCTAssertEqual(try retention.dueDocuments(now: Date(), limit: 10), [])

        try store("forever", until: nil)
        XCTAssertThrowsError(try rawSQL("DELETE FROM documents WHERE message_id = 'forever'"))
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "forever", by: "test", now: Date(), carrier: nil))
        try assertIntact("forever")
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "nothing", by: "test", now: Date(), carrier: nil)) {
            XCTAssertEqual($0 as? MailboxStoreError, .notFound("no document nothing"))
        }
    }

    func testPurgeAfterRetentionRemovesTheDocumentAndRecordsIt() throws {
        // "old" is made of an upload: its record (file name, digest) goes with the document.
        try mailbox.createUpload(Upload(id: "up-old", connection: "dms", name: "diagnosis.pdf", mimeType: "application/pdf", size: 1,
                                        chunkSize: 1, path: "/p/up-old", createdAt: t0))
        try mailbox.recordChunk(uploadId: "up-old", number: 1, at: t0)
        try mailbox.completeUpload(id: "up-old", sha256: String(repeating: "a", count: 64), at: t0)
        var old = NewDocument(messageId: "old", connection: "dms", idempotencyKey: nil, sender: sender, metadata: "{}",
                              files: [file("old", 1), file("old", 2)], recipients: [.init(address: company, route: .mailbox, status: .accepted)])
        old.retainUntil = past
        old.uploads = ["up-old"]
        XCTAssertEqual(try mailbox.insertDocument(old, notifications: [], at: t0), .stored)
        XCTAssertEqual(try mailbox.upload(id: "up-old")?.usedBy, "old")
        try store("young", until: future)
        try store("sending", until: past, remoteSending: true)
        XCTAssertEqual(try retention.dueDocuments(now: Date(), limit: 10), [DueDocument(messageId: "old", retainUntil: past, holds: [])],
                       "not the young one, nor one whose AS4 message is not final")
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "sending", by: "test", now: Date(), carrier: nil))

        let outcome = try retention.purgeDocument(messageId: "old", by: "mailbox-worker", now: Date(), carrier: nil)
        XCTAssertEqual(outcome.filePaths, ["/p/old/1", "/p/old/2"])
        XCTAssertEqual(outcome.record.recipients, [company])
        XCTAssertEqual(outcome.record.fileDigests, [String(repeating: "1", count: 64), String(repeating: "2", count: 64)])
        XCTAssertEqual(outcome.record.bytes, 300)
        XCTAssertEqual(outcome.record.retainUntil, past)
        XCTAssertNil(try mailbox.document(messageId: "old"))
        XCTAssertEqual(try mailbox.events(messageId: "old"), [])
        XCTAssertNil(try mailbox.upload(id: "up-old"), "the upload's record is purged with the document")
        XCTAssertEqual(try retention.purges(messageId: "old"), [outcome.record])
        XCTAssertEqual(try retention.purges(after: 0, limit: 10), [outcome.record])
        XCTAssertEqual(try retention.purges(messageId: "old").first?.purgedBy, "mailbox-worker")
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "old", by: "test", now: Date(), carrier: nil), "gone already")
        // The files stay listed until someone confirms each gone (a crash after the commit loses none).
        XCTAssertEqual(try retention.unremovedPurgeFiles(limit: 10).map(\.path), ["/p/old/1", "/p/old/2"])
        XCTAssertEqual(try retention.unremovedPurgeFiles(limit: 10).map(\.purgeId), [outcome.record.id, outcome.record.id])
        try retention.purgeFileRemoved(purgeId: outcome.record.id, path: "/p/old/1")
        XCTAssertEqual(try retention.unremovedPurgeFiles(limit: 10).map(\.path), ["/p/old/2"])
        try assertIntact("young")
        try assertIntact("sending")

        // The record of a purge is itself never purged nor changed.
        XCTAssertThrowsError(try rawSQL("DELETE FROM purges"))
        XCTAssertThrowsError(try rawSQL("UPDATE purges SET sender = 'x'"))
        XCTAssertEqual(try retention.purges(after: 0, limit: 10).count, 1)
    }

    /// Purging the newest document does not free its inbox entries' numbers: a mailbox reader
    /// whose cursor passed them still sees the next document.
    func testAnInboxCursorPastAPurgedDocumentStillSeesTheNextOne() throws {
        try store("first", until: past)
        let cursor = try XCTUnwrap(try mailbox.inbox(address: company, after: 0, limit: 10).last?.entry)
        _ = try retention.purgeDocument(messageId: "first", by: "test", now: Date(), carrier: nil)
        try store("second", until: future)
        let page = try mailbox.inbox(address: company, after: cursor, limit: 10)
        XCTAssertEqual(page.map(\.document.messageId), ["second"])
        XCTAssertGreaterThan(page.first?.entry ?? 0, cursor)
    }

    /// The purge takes a document's events but leaves their places in the hash chain
    /// (`event_tombstones`): the chain still verifies, later events chain on from a purged last
    /// one, and a changed tombstone breaks it.
    func testPurgedEventsKeepTheirPlaceInTheHashChain() throws {
        let chain = try openStore()
        defer { chain.close() }
        try store("young", until: future)
        try store("old", until: past)
        let oldEvents = try mailbox.events(messageId: "old").count
        XCTAssertGreaterThan(oldEvents, 0)
        _ = try retention.purgeDocument(messageId: "old", by: "test", now: Date(), carrier: nil)
        var report = try chain.verifyChain(.documentEvents)
        XCTAssertNil(report.firstBreak, "\(String(describing: report.firstBreak))")
        XCTAssertEqual(report.purged, oldEvents)
        XCTAssertEqual(report.chained, try mailbox.events(messageId: "young").count)

        try store("new", until: future)
        report = try chain.verifyChain(.documentEvents)
        XCTAssertNil(report.firstBreak, "the next event chains to the purged last one: \(String(describing: report.firstBreak))")
        // The purged id stored again later (the document arriving anew): its old tombstones still count.
        var again = NewDocument(messageId: "old", connection: "dms", idempotencyKey: nil, sender: sender, metadata: "{}",
                                files: [file("old", 1)], recipients: [.init(address: company, route: .mailbox, status: .accepted)])
        again.retainUntil = future
        XCTAssertEqual(try mailbox.insertDocument(again, notifications: [], at: Date() + 60), .stored)
        report = try chain.verifyChain(.documentEvents)
        XCTAssertNil(report.firstBreak, "\(String(describing: report.firstBreak))")
        XCTAssertEqual(report.purged, oldEvents)
        let ids = try chain.chainedEvents(.documentEvents, after: 0, limit: 100).map(\.id)
        XCTAssertEqual(ids, Array(Set(ids)).sorted(), "no id is given twice")

        // A due document's events cannot be deleted by hand either: only after their tombstones.
        try store("due", until: past)
        XCTAssertThrowsError(try rawSQL("DELETE FROM document_events WHERE message_id = 'due'"), "no tombstone, no delete")
        XCTAssertFalse(try mailbox.events(messageId: "due").isEmpty)
        // Tombstones written by hand (no purge record, the document still held) let the rows go,
        // but the walk names them: a deletion dressed up as a purge.
        try rawSQL("""
            INSERT INTO event_tombstones (tbl, id, message_id, prev_hash, hash, purge_id)
            SELECT 'document_events', id, message_id, prev_hash, hash, 999 FROM document_events WHERE message_id = 'due'
            """)
        try rawSQL("DELETE FROM document_events WHERE message_id = 'due'")
        let forged = try XCTUnwrap(try chain.verifyChain(.documentEvents).firstBreak)
        XCTAssertEqual(forged.field, "tombstone")
        XCTAssertEqual(forged.messageId, "due")
        XCTAssertThrowsError(try rawSQL("UPDATE event_tombstones SET hash = 'x'"), "tombstones are append-only")
        XCTAssertThrowsError(try rawSQL("DELETE FROM event_tombstones"))
        switch Self.backend {
        case .sqlite: try rawSQL("DROP TRIGGER event_tombstones_no_update")
        case .postgres: try rawSQL("DROP TRIGGER event_tombstones_append_only ON event_tombstones")
        }
        try rawSQL("UPDATE event_tombstones SET hash = '\(String(repeating: "0", count: 64))' WHERE id = (SELECT MIN(id) FROM event_tombstones)")
        let broken = try XCTUnwrap(try chain.verifyChain(.documentEvents).firstBreak)
        XCTAssertEqual(broken.field, "prev_hash", "the row after the changed tombstone no longer links")
        XCTAssertLessThan(broken.eventId, forged.eventId, "found before the forged tombstones")
    }

    func testLegalHoldsKeepDocumentsUntilReleased() throws {
        try store("held", until: past, to: [company])
        try store("by-address", until: past, to: [other])
        let onMessage = try retention.placeHold(.message("held"), reason: "court order 1-2/3", by: "ops", at: t0)
        let onAddress = try retention.placeHold(.address(other), reason: "audit", by: "ops", at: t0)
        XCTAssertEqual(try retention.holds(activeOnly: true).map(\.id), [onMessage.id, onAddress.id])
        let due = Dictionary(uniqueKeysWithValues: try retention.dueDocuments(now: Date(), limit: 10).map { ($0.messageId, $0.holds) })
        XCTAssertEqual(due, ["held": [onMessage.id], "by-address": [onAddress.id]])
        // Pages go on after the last one, so held documents do not hide those behind them.
        try store("free", until: past.addingTimeInterval(1))
        let first = try retention.dueDocuments(now: Date(), limit: 2)
        XCTAssertEqual(Set(first.map(\.messageId)), ["held", "by-address"])
        XCTAssertEqual(try retention.dueDocuments(now: Date(), after: first.last, limit: 2).map(\.messageId), ["free"])
        XCTAssertEqual(try retention.dueDocuments(now: Date(), after: first.first, limit: 1).map(\.messageId), [first[1].messageId])
        for id in ["held", "by-address"] {
            XCTAssertThrowsError(try retention.purgeDocument(messageId: id, by: "test", now: Date(), carrier: nil)) {
                XCTAssertEqual(($0 as? MailboxStoreError).map { "\($0)" }?.contains("legal hold"), true, "\($0)")
            }
            XCTAssertThrowsError(try rawSQL("DELETE FROM document_events WHERE message_id = '\(id)'"))
            XCTAssertThrowsError(try rawSQL("DELETE FROM documents WHERE message_id = '\(id)'"))
            try assertIntact(id)
        }
        // A hold stays on record and changes only by its one release.
        XCTAssertThrowsError(try rawSQL("DELETE FROM legal_holds"))
        XCTAssertThrowsError(try rawSQL("UPDATE legal_holds SET reason = 'other'"))
        // Released now: the database's clock judges the time of a release.
        let now = Date().rounded
        let released = try retention.releaseHold(id: onMessage.id, by: "ops2", at: now)
        XCTAssertEqual(released.releasedBy, "ops2")
        XCTAssertEqual(released.releasedAt, now)
        XCTAssertThrowsError(try retention.releaseHold(id: onMessage.id, by: "ops", at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .conflict("legal hold \(onMessage.id) was released already"))
        }
        XCTAssertThrowsError(try retention.releaseHold(id: 999, by: "ops", at: t0)) { XCTAssertEqual($0 as? MailboxStoreError, .notFound("no legal hold 999")) }
        XCTAssertEqual(try retention.holds(activeOnly: true).map(\.id), [onAddress.id])
        XCTAssertEqual(try retention.holds(activeOnly: false).count, 2)

        XCTAssertEqual(try retention.purgeDocument(messageId: "held", by: "test", now: Date(), carrier: nil).record.messageId, "held")
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "by-address", by: "test", now: Date(), carrier: nil), "the address hold stands")
        _ = try retention.releaseHold(id: onAddress.id, by: "ops", at: Date())
        XCTAssertEqual(try retention.purgeDocument(messageId: "by-address", by: "test", now: Date(), carrier: nil).record.recipients, [other])

        XCTAssertThrowsError(try retention.placeHold(.message("no-such"), reason: "x", by: "ops", at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .notFound("no document no-such"))
        }
        XCTAssertThrowsError(try retention.placeHold(.address(other), reason: "  ", by: "ops", at: t0), "a hold needs a reason")
    }

    /// A release names who released the hold and happens now: not before the hold was placed,
    /// and within five minutes of the database's clock. The store says so in words; hand-typed
    /// SQL meets the trigger, so a hold cannot be released into 1970 and its document purged.
    func testAHoldIsReleasedBySomeoneNowNotBeforeItWasPlaced() throws {
        try store("held", until: past, to: [company])
        let placedAt = Date().addingTimeInterval(-60).rounded
        let hold = try retention.placeHold(.message("held"), reason: "court order", by: "ops", at: placedAt)
        let nowMillis = Date().storeMilliseconds
        for forged in ["released_by = 'x', released_at = 1", "released_by = '', released_at = \(nowMillis)",
                       "released_by = '  ', released_at = \(nowMillis)",
                       "released_by = 'x', released_at = \(placedAt.storeMilliseconds - 1)",
                       "released_by = 'x', released_at = \(nowMillis + 3_600_000)"] {
            XCTAssertThrowsError(try rawSQL("UPDATE legal_holds SET \(forged) WHERE id = \(hold.id)"), forged)
        }
        XCTAssertEqual(try retention.holds(activeOnly: true).map(\.id), [hold.id], "still held")
        XCTAssertEqual(try retention.dueDocuments(now: Date(), limit: 10).first?.holds, [hold.id])
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "held", by: "test", now: Date(), carrier: nil))

        XCTAssertThrowsError(try retention.releaseHold(id: hold.id, by: "ops", at: placedAt - 1)) {
            XCTAssertTrue(($0 as? MailboxStoreError)?.description.contains("before it was placed") == true, "\($0)")
        }
        XCTAssertThrowsError(try retention.releaseHold(id: hold.id, by: "ops", at: Date().addingTimeInterval(3600))) {
            XCTAssertTrue(($0 as? MailboxStoreError)?.description.contains("more than 5 minutes from the database's clock") == true, "\($0)")
        }
        XCTAssertThrowsError(try retention.releaseHold(id: hold.id, by: " ", at: Date())) {
            XCTAssertTrue(($0 as? MailboxStoreError)?.description.contains("without naming who releases it") == true, "\($0)")
        }
        XCTAssertEqual(try retention.holds(activeOnly: true).map(\.id), [hold.id])
        // What a gateway does passes, by the store or by hand.
        try rawSQL("UPDATE legal_holds SET released_by = 'ops', released_at = \(Date().storeMilliseconds) WHERE id = \(hold.id)")
        XCTAssertEqual(try retention.holds(activeOnly: true).count, 0)
        XCTAssertEqual(try retention.purgeDocument(messageId: "held", by: "test", now: Date(), carrier: nil).record.messageId, "held")
    }

    func testRetentionOnlyMovesLater() throws {
        try store("d", until: future)
        XCTAssertThrowsError(try rawSQL("UPDATE documents SET retain_until = retain_until - 1 WHERE message_id = 'd'"))
        XCTAssertNoThrow(try rawSQL("UPDATE documents SET retain_until = retain_until + 1000 WHERE message_id = 'd'"), "later is allowed")
        XCTAssertEqual(try retention.retainUntil(messageId: "d"), .some(future + 1))
        XCTAssertEqual(try retention.retainUntil(messageId: "none"), .none)

        // A document arriving again for another recipient keeps the later retention.
        var first = NewDocument(messageId: "a", connection: nil, idempotencyKey: nil, sender: sender, metadata: "{}", originParty: "gw-a",
                                originMessageId: "as4-1", files: [file("a", 1)], recipients: [.init(address: company, route: .mailbox, status: .accepted)])
        first.retainUntil = past
        _ = try mailbox.insertDocument(first, notifications: [], at: t0)
        var second = first
        second.recipients = [.init(address: other, route: .mailbox, status: .accepted)]
        second.retainUntil = future
        XCTAssertEqual(try mailbox.insertDocument(second, notifications: [], at: t0), .stored)
        XCTAssertEqual(try retention.retainUntil(messageId: "a"), .some(future))
        var third = first
        third.recipients = [.init(address: sender, route: .mailbox, status: .accepted)]
        _ = try mailbox.insertDocument(third, notifications: [], at: t0)
        XCTAssertEqual(try retention.retainUntil(messageId: "a"), .some(future), "an earlier one does not shorten it")
    }

    func testPurgeErasesThePayloadsOfTheFinalAS4MessagesThatCarriedIt() throws {
        let messages = try openStore()
        defer { messages.close() }
        let carrier = DocumentCarrier(service: "urn:svc:delivery", action: "EAddressDocument")
        func carried(_ id: String, conversation: String, action: String = "EAddressDocument") -> MessageMetadata {
            var m = metadata(id)
            m.conversationId = conversation
            m.service = carrier.service
            m.action = action
            m.properties = [MessageProperty("originalSender", "DVS@90000048472"), MessageProperty("finalRecipient", "_PRIVATE@16117519997")]
            return m
        }
        func parts(_ id: String) -> [MessagePart] {
            [MessagePart(contentId: "cid:h", mimeType: "application/json", file: StoredFile(path: "/in/\(id)/header", size: 10, sha256: String(repeating: "a", count: 64)),
                         properties: [MessageProperty("x-recipient", "_PRIVATE@16117519997")]),
             MessagePart(contentId: "cid:f", mimeType: "application/pdf", file: StoredFile(path: "/in/\(id)/file", size: 20, sha256: String(repeating: "b", count: 64)))]
        }
        // Taken in (handed over), still to be taken in, a status report of the same conversation,
        // sent with a receipt, and still queued.
        _ = try messages.recordInbound(InboundMessage(metadata: carried("in-done", conversation: "doc"), parts: parts("in-done"), receivedAt: t0), duplicateWindow: 60)
        try messages.markHandedOver(messageId: "in-done", at: t0)
        _ = try messages.recordInbound(InboundMessage(metadata: carried("in-new", conversation: "doc"), parts: parts("in-new"), receivedAt: t0), duplicateWindow: 60)
        _ = try messages.recordInbound(InboundMessage(metadata: carried("status", conversation: "doc", action: "EAddressStatus"), parts: parts("status"),
                                                      receivedAt: t0), duplicateWindow: 60)
        try messages.markHandedOver(messageId: "status", at: t0)
        var sent = outbound("out-done", at: t0)
        sent.metadata = carried("out-done", conversation: "doc")
        _ = try messages.enqueueOutbound(sent)
        var queued = outbound("out-queued", at: t0 + 100)
        queued.metadata = carried("out-queued", conversation: "doc")
        _ = try messages.enqueueOutbound(queued)
        XCTAssertEqual(try messages.claimDue(now: t0 + 1, limit: 1, owner: "w", lease: 60).map(\.metadata.messageId), ["out-done"])
        try messages.markDelivered(messageId: "out-done", owner: "w", receipt: Data("receipt".utf8), at: t0 + 2)
        // Carriers are known by identity, never by a conversation id the sender chose: a message
        // of the same conversation is not this document's unless a recipient names it (a later
        // arrival that added a mailbox recipient: one AS4 message per recipient).
        _ = try messages.recordInbound(InboundMessage(metadata: carried("in-other", conversation: "doc"), parts: parts("in-other"), receivedAt: t0),
                                       duplicateWindow: 60)
        try messages.markHandedOver(messageId: "in-other", at: t0)
        _ = try messages.recordInbound(InboundMessage(metadata: carried("in-second", conversation: "doc"), parts: parts("in-second"), receivedAt: t0),
                                       duplicateWindow: 60)
        try messages.markHandedOver(messageId: "in-second", at: t0)
        // A message whose part file the document took (a second arrival): its part must not go on
        // naming the removed file.
        _ = try messages.recordInbound(InboundMessage(metadata: carried("in-shared", conversation: "elsewhere"), parts: parts("in-shared"), receivedAt: t0), duplicateWindow: 60)
        var d = NewDocument(messageId: "doc", connection: nil, idempotencyKey: nil, sender: sender, metadata: "{}",
                            originParty: "gw-x", originMessageId: "in-done",
                            files: [DocumentFile(name: "f1.pdf", mimeType: "application/pdf",
                                                 file: StoredFile(path: "/in/in-shared/file", size: 100, sha256: String(repeating: "1", count: 64))),
                                    file("doc", 2)],
                            recipients: [.init(address: company, route: .mailbox, status: .accepted),
                                         .init(address: other, route: .remote, status: .accepted, party: "gw-b", as4MessageId: "out-done"),
                                         .init(address: "ARHIVS@40003032949", route: .mailbox, status: .accepted, as4MessageId: "in-second")])
        d.retainUntil = past
        XCTAssertEqual(try mailbox.insertDocument(d, notifications: [], at: t0), .stored)

        let outcome = try retention.purgeDocument(messageId: "doc", by: "test", now: Date(), carrier: carrier)
        XCTAssertEqual(outcome.record.as4Messages, ["in-done", "in-second", "out-done"])
        XCTAssertEqual(outcome.filePaths, ["/in/in-done/file", "/in/in-done/header", "/in/in-second/file", "/in/in-second/header",
                                           "/in/in-shared/file", "/msgs/out-done.mime", "/p/doc/2"])
        XCTAssertEqual(try messages.findMessage(id: "in-second", direction: .inbound)?.parts.map(\.file.path), ["", ""],
                       "a later arrival of the document (another recipient) is erased too")
        XCTAssertEqual(try messages.findMessage(id: "in-other", direction: .inbound)?.parts.map(\.file.path), ["/in/in-other/header", "/in/in-other/file"],
                       "not a carrier of this document")
        XCTAssertEqual(try messages.findMessage(id: "in-shared", direction: .inbound)?.parts.map(\.file.path), ["/in/in-shared/header", ""],
                       "the part whose file the document held no longer names it")
        XCTAssertEqual(try retention.purges(messageId: "doc").first?.as4Messages, ["in-done", "in-second", "out-done"])
        let erased = try XCTUnwrap(try messages.findMessage(id: "in-done", direction: .inbound))
        XCTAssertEqual(erased.parts.map(\.file.path), ["", ""], "the payloads are gone")
        XCTAssertEqual(erased.metadata.properties, [], "and the properties naming sender and recipient")
        XCTAssertEqual(erased.parts.flatMap(\.properties), [])
        XCTAssertEqual(try messages.findMessage(id: "out-done", direction: .outbound)?.metadata.properties, [])
        XCTAssertEqual(try messages.findMessage(id: "in-other", direction: .inbound)?.metadata.properties.count, 2, "not a carrier: kept")
        XCTAssertEqual(erased.parts.map(\.file.sha256), [String(repeating: "a", count: 64), String(repeating: "b", count: 64)], "their digests stay")
        XCTAssertEqual(try messages.findMessage(id: "out-done", direction: .outbound)?.outbound?.messagePath, "")
        XCTAssertEqual(try messages.findMessage(id: "out-done", direction: .outbound)?.receipt, Data("receipt".utf8), "the receipt stays")
        XCTAssertEqual(try messages.findMessage(id: "in-new", direction: .inbound)?.parts.map(\.file.path), ["/in/in-new/header", "/in/in-new/file"])
        XCTAssertEqual(try messages.findMessage(id: "status", direction: .inbound)?.parts.first?.file.path, "/in/status/header")
        XCTAssertEqual(try messages.findMessage(id: "out-queued", direction: .outbound)?.outbound?.messagePath, "/msgs/out-queued.mime")
    }

    /// The purge's clock is judged against the runs recorded before: far past the last one it is
    /// deferred by one bound (also while the clock stays consistent within that time), then it
    /// proceeds; a dry run only asks; an operator's override and a step the process saw are
    /// recorded as such; the record is append-only.
    func testAPurgeFarPastTheLastRunIsDeferredOneBound() throws {
        let day: TimeInterval = 86_400, hour: TimeInterval = 3600
        let t = Date(timeIntervalSinceNow: 0).rounded
        func check(_ at: Date, trusted: Bool = false, step: TimeInterval? = nil, record: Bool = true) throws -> PurgeClearance {
            try retention.checkPurgeClock(PurgeClockCheck(now: at, bound: day, by: "mailbox-worker", trusted: trusted, observedStep: step, record: record))
        }
        func deferredUntil(_ c: PurgeClearance) -> Date? { if case .deferred(let until, _) = c { return until } else { return nil } }
        XCTAssertEqual(try check(t), .proceed, "nothing recorded, nothing written: nothing to judge by")
        XCTAssertEqual(try check(t + hour), .proceed, "the next run an hour later")
        // Restarted under a clock 49 h ahead: deferred one bound, and so are the runs within it.
        let jumped = t + hour + 49 * hour
        XCTAssertEqual(deferredUntil(try check(jumped)), jumped + day)
        XCTAssertEqual(deferredUntil(try check(jumped + hour)), jumped + day)
        XCTAssertEqual(deferredUntil(try check(jumped + 23 * hour)), jumped + day)
        // A clock that stayed consistent for the bound: the purge proceeds.
        XCTAssertEqual(try check(jumped + day + 60), .proceed)
        XCTAssertEqual(try check(jumped + day + hour), .proceed)
        // A dry run far ahead is told, and records nothing.
        let runs = try retention.purgeRuns(limit: 100).count
        XCTAssertNotNil(deferredUntil(try check(jumped + 1830 * day, record: false)))
        XCTAssertEqual(try retention.purgeRuns(limit: 100).count, runs)
        // Set back after a jump: not trusted sooner than a bound from the corrected time.
        let ahead = jumped + day + hour + 49 * hour
        XCTAssertEqual(deferredUntil(try check(ahead)), ahead + day)
        let corrected = ahead - 49 * hour
        XCTAssertEqual(deferredUntil(try check(corrected)), corrected + day)
        // The operator vouches for the clock: it proceeds, recorded as an override.
        XCTAssertEqual(try check(corrected + 3 * day, trusted: true), .proceed)
        XCTAssertEqual(try retention.purgeRuns(limit: 1).first?.outcome, .overridden)
        XCTAssertEqual(try check(corrected + 3 * day + hour), .proceed, "judged from the override on")
        // A step the process saw defers whatever the record says.
        XCTAssertNotNil(deferredUntil(try check(corrected + 3 * day + 2 * hour, step: 2 * hour)))
        let recorded = try retention.purgeRuns(limit: 100)
        XCTAssertEqual(recorded.count, runs + 5)
        XCTAssertEqual(recorded.first?.outcome, .deferred)
        XCTAssertEqual(recorded.first?.by, "mailbox-worker")
        XCTAssertEqual(recorded.last?.at, t)
        XCTAssertThrowsError(try rawSQL("DELETE FROM purge_runs"), "append-only")
        XCTAssertThrowsError(try rawSQL("UPDATE purge_runs SET run_at = 0"), "append-only")
    }

    /// With no run recorded yet (the first after an upgrade), the newest time the store wrote stands in.
    func testTheFirstRunIsJudgedByTheNewestRecord() throws {
        try store("old", until: past)  // its events are at t0
        let day: TimeInterval = 86_400
        XCTAssertEqual(try retention.checkPurgeClock(PurgeClockCheck(now: t0 + 3600, bound: day, by: "cli:op", record: false)), .proceed)
        guard case .deferred = try retention.checkPurgeClock(PurgeClockCheck(now: t0 + 2 * day, bound: day, by: "cli:op")) else {
            return XCTFail("two days past the newest record with no run before: deferred")
        }
        XCTAssertNotNil(try mailbox.document(messageId: "old"))
    }

    func testMailboxBytesCountWhatTheMailboxHolds() throws {
        XCTAssertEqual(try retention.mailboxBytes(address: company), 0)
        try store("one", until: past)
        try store("two", until: future, to: [company, other])
        XCTAssertEqual(try retention.mailboxBytes(address: company), 600)
        XCTAssertEqual(try retention.mailboxBytes(address: other), 300)
        XCTAssertEqual(try retention.mailboxBytes(address: sender), 0, "the sender's mailbox holds nothing of what it sent")
        _ = try retention.purgeDocument(messageId: "one", by: "test", now: Date(), carrier: nil)
        XCTAssertEqual(try retention.mailboxBytes(address: company), 300)
    }
}

// Linux test discovery lists only methods a class declares itself, hence one override per test.
final class PostgresRetentionStoreTests: RetentionStoreTests {
    override class var backend: StoreBackend { .postgres }
    override func testDeletingBeforeRetentionIsRefusedByTheStoreAndByTheDatabase() throws { try super.testDeletingBeforeRetentionIsRefusedByTheStoreAndByTheDatabase() }
    override func testPurgedEventsKeepTheirPlaceInTheHashChain() throws { try super.testPurgedEventsKeepTheirPlaceInTheHashChain() }
    override func testPurgeAfterRetentionRemovesTheDocumentAndRecordsIt() throws { try super.testPurgeAfterRetentionRemovesTheDocumentAndRecordsIt() }
    override func testAnInboxCursorPastAPurgedDocumentStillSeesTheNextOne() throws { try super.testAnInboxCursorPastAPurgedDocumentStillSeesTheNextOne() }
    override func testLegalHoldsKeepDocumentsUntilReleased() throws { try super.testLegalHoldsKeepDocumentsUntilReleased() }
    override func testRetentionOnlyMovesLater() throws { try super.testRetentionOnlyMovesLater() }
    override func testAHoldIsReleasedBySomeoneNowNotBeforeItWasPlaced() throws { try super.testAHoldIsReleasedBySomeoneNowNotBeforeItWasPlaced() }
    override func testPurgeErasesThePayloadsOfTheFinalAS4MessagesThatCarriedIt() throws { try super.testPurgeErasesThePayloadsOfTheFinalAS4MessagesThatCarriedIt() }
    override func testMailboxBytesCountWhatTheMailboxHolds() throws { try super.testMailboxBytesCountWhatTheMailboxHolds() }
    override func testAPurgeFarPastTheLastRunIsDeferredOneBound() throws { try super.testAPurgeFarPastTheLastRunIsDeferredOneBound() }
    override func testTheFirstRunIsJudgedByTheNewestRecord() throws { try super.testTheFirstRunIsJudgedByTheNewestRecord() }
}

extension Date {
    /// Whole milliseconds, as the store keeps dates.
    var rounded: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded() / 1000) }
}
