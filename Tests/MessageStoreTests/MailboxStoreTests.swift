import Foundation
@testable import MessageStore
import XCTest

/// The backend API's store: connections, documents with per-recipient state that only moves
/// forward, idempotency keys, documents arriving again, mailbox paging and the notification feed.
class MailboxStoreTests: StoreTestCase {
    let sender = "DVS@90000048472", company = "_DEFAULT@40003032949", institution = "_DEFAULT@90000048472"
    var store: (any MailboxStore)!

    override func setUpWithError() throws {
        try super.setUpWithError()
        store = try openMailboxStore()
    }

    override func tearDownWithError() throws {
        store.close()
        try super.tearDownWithError()
    }

    func file(_ n: Int) -> DocumentFile {
        DocumentFile(name: "f\(n).pdf", mimeType: "application/pdf", file: StoredFile(path: "/p/\(n)", size: Int64(n), sha256: String(repeating: "\(n % 10)", count: 64)))
    }

    func document(_ id: String, key: String? = nil, connection: String? = "dms", origin: String? = nil,
                  recipients: [NewDocument.Recipient]? = nil) -> NewDocument {
        NewDocument(messageId: id, connection: connection, idempotencyKey: key, sender: sender, metadata: "{\"subject\":\"s\"}",
                    originParty: origin, originMessageId: origin.map { "as4-\($0)" }, files: [file(1), file(2)],
                    recipients: recipients ?? [.init(address: company, route: .mailbox, status: .accepted),
                                               .init(address: institution, route: .remote, status: .submitted, party: "gw-b", as4MessageId: "as4-\(id)")])
    }

    func notice(_ address: String, _ kind: String, _ id: String) -> BackendNotification {
        BackendNotification(address: address, kind: kind, messageId: id, recipient: nil, detail: nil, at: t0)
    }

    func testConnectionsAddListRevoke() throws {
        let c = BackendConnection(name: "dms", tokenSHA256: String(repeating: "a", count: 64), certificateSHA256: nil, addresses: [sender, company], createdAt: t0)
        try store.addConnection(c)
        XCTAssertThrowsError(try store.addConnection(c)) { XCTAssertEqual($0 as? MailboxStoreError, .conflict("a connection named dms exists")) }
        XCTAssertEqual(try store.connections(), [c])
        XCTAssertTrue(try store.revokeConnection(name: "dms", at: t0 + 1))
        XCTAssertFalse(try store.revokeConnection(name: "dms", at: t0 + 2), "revoked once")
        XCTAssertFalse(try store.revokeConnection(name: "nobody", at: t0))
        XCTAssertEqual(try store.connections().first?.revokedAt, t0 + 1)
        let noCredential = BackendConnection(name: "x", tokenSHA256: nil, certificateSHA256: nil, addresses: [sender], createdAt: t0)
        XCTAssertThrowsError(try store.addConnection(noCredential), "the schema wants a credential")
    }

    func testConnectionRolesAreKeptAndUnknownNamesDropped() throws {
        let op = BackendConnection(name: "ops", tokenSHA256: String(repeating: "b", count: 64), certificateSHA256: nil, addresses: [],
                                   createdAt: t0, roles: [.operatorRole, .channelLookup])
        let dms = BackendConnection(name: "dms", tokenSHA256: String(repeating: "c", count: 64), certificateSHA256: nil, addresses: [sender], createdAt: t0)
        try store.addConnection(op)
        try store.addConnection(dms)
        XCTAssertEqual(try store.connections().map(\.roles), [[], [.operatorRole, .channelLookup]])
        XCTAssertEqual(ConnectionRole.column([.operatorRole, .channelLookup]), "lookup,operator")
        XCTAssertEqual(ConnectionRole.roles(column: "operator,auditor,,lookup"), [.operatorRole, .channelLookup])
        XCTAssertEqual(ConnectionRole.roles(column: ""), [])
    }

    func testDocumentStoredWholeWithEventsAndIdempotencyKey() throws {
        XCTAssertEqual(try store.insertDocument(document("m1", key: "k"), notifications: [notice(company, "newMessage", "m1")], at: t0), .stored)
        let d = try XCTUnwrap(try store.document(messageId: "m1"))
        XCTAssertEqual(d.files, [file(1), file(2)])
        XCTAssertEqual(d.recipients.map(\.status), [.accepted, .submitted])
        XCTAssertEqual(try store.events(messageId: "m1").map(\.status), ["Accepted", "Submitted"])
        XCTAssertEqual(try store.insertDocument(document("m2", key: "k"), notifications: [], at: t0), .existing(messageId: "m1"))
        XCTAssertNil(try store.document(messageId: "m2"), "a repeated key stores nothing")
        XCTAssertEqual(try store.insertDocument(document("m3", key: "k", connection: "other"), notifications: [], at: t0), .stored, "keys are per connection")
        XCTAssertEqual(try store.documentId(connection: "dms", idempotencyKey: "k"), "m1")
        XCTAssertEqual(try store.documentId(connection: "other", idempotencyKey: "k"), "m3")
        XCTAssertNil(try store.documentId(connection: "dms", idempotencyKey: "nope"))
        XCTAssertEqual(try store.recipient(as4MessageId: "as4-m1")?.address, institution)

        // A remote recipient without its access point breaks a CHECK: nothing of the document stays.
        let broken = document("m4", recipients: [.init(address: company, route: .mailbox, status: .accepted),
                                                 .init(address: institution, route: .remote, status: .submitted)])
        XCTAssertThrowsError(try store.insertDocument(broken, notifications: [notice(company, "newMessage", "m4")], at: t0))
        XCTAssertNil(try store.document(messageId: "m4"))
        XCTAssertEqual(try store.inbox(address: company, after: 0, limit: 10).map(\.document.messageId), ["m1", "m3"])
    }

    func testArrivingDocumentAddsRecipientsFromItsOriginOnly() throws {
        let one = document("d", connection: nil, origin: "gw-a", recipients: [.init(address: company, route: .mailbox, status: .accepted)])
        XCTAssertEqual(try store.insertDocument(one, notifications: [], at: t0), .stored)
        XCTAssertEqual(try store.insertDocument(one, notifications: [], at: t0), .existing(messageId: "d"), "the same recipient again")
        let two = document("d", connection: nil, origin: "gw-a", recipients: [.init(address: institution, route: .mailbox, status: .accepted)])
        XCTAssertEqual(try store.insertDocument(two, notifications: [], at: t0), .stored)
        XCTAssertEqual(try store.document(messageId: "d")?.recipients.map(\.address), [company, institution])
        let forged = document("d", connection: nil, origin: "gw-x", recipients: [.init(address: sender, route: .mailbox, status: .accepted)])
        XCTAssertThrowsError(try store.insertDocument(forged, notifications: [], at: t0)) { XCTAssertTrue($0 is MailboxStoreError) }
        XCTAssertEqual(try store.document(messageId: "d")?.recipients.count, 2)
    }

    /// A recipient's AS4 message id names one recipient: an id that carries one here already
    /// (another document's carrier, the same party's id used again after its duplicate window,
    /// one of our own messages' ids) is a conflict the caller can judge, never the unique index's
    /// error, which a caller cannot tell from a store failure. Nothing of the refused insert stays.
    func testARecipientWhoseAS4MessageIdCarriesAnotherAlreadyIsAConflict() throws {
        try store.addConnection(BackendConnection(name: "institution", tokenSHA256: String(repeating: "b", count: 64), certificateSHA256: nil,
                                                  addresses: [institution], createdAt: t0))
        func arriving(_ id: String, _ address: String) -> NewDocument {
            document(id, connection: nil, origin: "gw-a", recipients: [.init(address: address, route: .mailbox, status: .accepted, as4MessageId: "carrier-1")])
        }
        XCTAssertEqual(try store.insertDocument(arriving("d1", company), notifications: [], at: t0), .stored)
        let taken = MailboxStoreError.conflict("AS4 message id carrier-1 already carries document d1 here")

        XCTAssertThrowsError(try store.insertDocument(arriving("d2", institution), notifications: [notice(institution, "newMessage", "d2")], at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, taken)
        }
        XCTAssertNil(try store.document(messageId: "d2"), "a new document under a taken carrier: nothing of it stays")
        XCTAssertThrowsError(try store.insertDocument(arriving("d1", institution), notifications: [notice(institution, "newMessage", "d1")], at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, taken)
        }
        XCTAssertEqual(try store.document(messageId: "d1")?.recipients.map(\.address), [company], "the held document gains no recipient")
        XCTAssertEqual(try store.notifications(connection: "institution", addresses: [institution], limit: 10), [], "nor a notification")
        XCTAssertEqual(try store.insertDocument(arriving("d1", company), notifications: [], at: t0), .existing(messageId: "d1"),
                       "its own recipient again is held already, no conflict")

        // Our own message's id is a carrier like any other.
        let ours = document("sent", recipients: [.init(address: institution, route: .remote, status: .submitted, party: "gw-b", as4MessageId: "ours-1")])
        XCTAssertEqual(try store.insertDocument(ours, notifications: [], at: t0), .stored)
        XCTAssertThrowsError(try store.insertDocument(document("d3", connection: nil, origin: "gw-a", recipients: [
            .init(address: company, route: .mailbox, status: .accepted, as4MessageId: "ours-1")]), notifications: [], at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .conflict("AS4 message id ours-1 already carries document sent here"))
        }
        XCTAssertNil(try store.document(messageId: "d3"))
    }

    func testRecipientStateOnlyMovesForwardAndIsDecidedOnce() throws {
        _ = try store.insertDocument(document("m"), notifications: [], at: t0)
        let receipt = Data("<Receipt/>".utf8)
        // A later state reported before the receipt was seen: the receipt is still kept.
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "m", address: institution, status: .delivered), at: t0 + 1))
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "m", address: institution, status: .accepted, receipt: receipt), at: t0 + 2))
        XCTAssertEqual(try store.document(messageId: "m")?.recipients.last?.receipt, receipt)
        XCTAssertEqual(try store.document(messageId: "m")?.recipients.last?.status, .delivered)
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "m", address: institution, status: .failed), at: t0 + 3), "too late to fail")

        let yes = RecipientDecision(accepted: true, code: "OK", reason: nil, at: t0 + 4)
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "m", address: company, status: .recipientAccepted, decision: yes,
                                                      notifications: [notice(sender, "recipientAccepted", "m")]), at: t0 + 4))
        XCTAssertThrowsError(try store.updateRecipient(.init(messageId: "m", address: company, status: .recipientRejected,
                                                             decision: RecipientDecision(accepted: false, code: nil, reason: "no", at: t0 + 5)), at: t0 + 5)) {
            XCTAssertEqual($0 as? MailboxStoreError, .conflict("message m was already confirmed for \(company) (accept)"))
        }
        XCTAssertEqual(try store.document(messageId: "m")?.recipients.first?.decision, yes)
        XCTAssertThrowsError(try store.updateRecipient(.init(messageId: "m", address: "X@1", status: .delivered), at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .notFound("message m has no recipient X@1"))
        }
        XCTAssertEqual(try store.events(messageId: "m").filter { $0.address == company }.map(\.status), ["Accepted", "RecipientAccepted"])
        XCTAssertTrue(RecipientStatus.submitted.allows(.failed))
        XCTAssertFalse(RecipientStatus.recipientRejected.allows(.recipientAccepted))
    }

    func testNotificationsPerConnectionAddressesAndConfirmedPosition() throws {
        _ = try store.insertDocument(document("early"), notifications: [notice(company, "newMessage", "early")], at: t0)
        for (name, addresses) in [("dms", [sender]), ("company", [company])] {
            try store.addConnection(BackendConnection(name: name, tokenSHA256: String(repeating: "b", count: 64), certificateSHA256: nil,
                                                      addresses: addresses, createdAt: t0))
        }
        XCTAssertEqual(try store.notifications(connection: "company", addresses: [company], limit: 10), [], "a new connection starts after what was written")
        _ = try store.insertDocument(document("m"), notifications: [notice(company, "newMessage", "m"), notice(sender, "accepted", "m")], at: t0)
        try store.updateRecipient(.init(messageId: "m", address: company, status: .delivered, notifications: [notice(sender, "delivered", "m")]), at: t0)
        let mine = try store.notifications(connection: "dms", addresses: [sender], limit: 10)
        XCTAssertEqual(mine.map(\.kind), ["accepted", "delivered"])
        XCTAssertEqual(try store.notifications(connection: "company", addresses: [company], limit: 10).map(\.kind), ["newMessage"])
        let theirs = try store.notifications(connection: "company", addresses: [company], limit: 10)[0].id
        XCTAssertFalse(try store.confirmNotifications(connection: "dms", addresses: [sender], upTo: theirs), "another address's notification")
        XCTAssertFalse(try store.confirmNotifications(connection: "dms", addresses: [sender], upTo: 9999))
        XCTAssertTrue(try store.confirmNotifications(connection: "dms", addresses: [sender], upTo: mine[0].id))
        XCTAssertEqual(try store.notifications(connection: "dms", addresses: [sender], limit: 10).map(\.kind), ["delivered"])
        XCTAssertEqual(try store.notifications(connection: "dms", addresses: [sender], limit: 1).count, 1)
        XCTAssertTrue(try store.confirmNotifications(connection: "dms", addresses: [sender], upTo: mine[0].id), "confirming again moves nothing back")
        XCTAssertEqual(try store.notifications(connection: "dms", addresses: [sender], limit: 10).count, 1)
    }

    func testInboxPagesAndWorkerCursor() throws {
        for i in 1...5 { _ = try store.insertDocument(document("m\(i)"), notifications: [], at: t0) }
        let first = try store.inbox(address: company, after: 0, limit: 2)
        XCTAssertEqual(first.map(\.document.messageId), ["m1", "m2"])
        XCTAssertEqual(try store.inbox(address: company, after: first.last!.entry, limit: 10).map(\.document.messageId), ["m3", "m4", "m5"])
        XCTAssertEqual(try store.inbox(address: institution, after: 0, limit: 10).count, 0, "a remote recipient has no mailbox here")
        XCTAssertEqual(try store.cursor("w"), 0)
        try store.setCursor("w", to: 42)
        XCTAssertEqual(try store.cursor("w"), 42)
    }

    /// Our own Failed (no proof of delivery by then) gives way to a proof that comes later; the
    /// receiving side's refusal of the recipient after its receipt does not.
    func testAProofOfDeliverySupersedesOurOwnFailureOnly() throws {
        let receipt = Data("receipt".utf8)
        var late = document("late", recipients: [.init(address: institution, route: .remote, status: .submitted, party: "gw-b", as4MessageId: "as4-late")])
        late.deliveryBy = t0 + 60
        _ = try store.insertDocument(late, notifications: [], at: t0)
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "late", address: institution, status: .failed, detail: "not taken by the deadline"), at: t0 + 60))
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "late", address: institution, status: .deliveryDelayed), at: t0 + 61))
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "late", address: institution, status: .accepted, receipt: receipt,
                                                      notifications: [notice(sender, "accepted", "late")]), at: t0 + 70))
        var r = try XCTUnwrap(try store.document(messageId: "late")?.recipients.first)
        XCTAssertEqual(r.status, .accepted)
        XCTAssertEqual(r.receipt, receipt)
        XCTAssertEqual(try store.events(messageId: "late").map(\.status).suffix(2), ["Failed", "Accepted"])
        XCTAssertEqual(try store.overdueRecipients(now: t0 + 200, limit: 10).count, 0, "the deadline acted once, by failing it")

        // Accepted (receipt held), then the receiving side refused the recipient: the receipt
        // seen again (a repeated event) does not undo that.
        _ = try store.insertDocument(document("refused", recipients: [.init(address: institution, route: .remote, status: .submitted,
                                                                             party: "gw-b", as4MessageId: "as4-refused")]), notifications: [], at: t0)
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "refused", address: institution, status: .accepted, receipt: receipt), at: t0 + 1))
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "refused", address: institution, status: .failed, detail: "CompanyLiquidated"), at: t0 + 2))
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "refused", address: institution, status: .accepted, receipt: receipt), at: t0 + 3))
        XCTAssertEqual(try store.document(messageId: "refused")?.recipients.first?.status, .failed)

        // The receiving side's own report that the recipient read and answered it is a proof too.
        _ = try store.insertDocument(document("read", recipients: [.init(address: institution, route: .remote, status: .submitted,
                                                                          party: "gw-b", as4MessageId: "as4-read")]), notifications: [], at: t0)
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "read", address: institution, status: .failed), at: t0 + 1))
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "read", address: institution, status: .delivered, retrieved: true), at: t0 + 2))
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "read", address: institution, status: .recipientAccepted,
                                                      decision: RecipientDecision(accepted: true, code: nil, reason: nil, at: t0 + 3)), at: t0 + 3))
        r = try XCTUnwrap(try store.document(messageId: "read")?.recipients.first)
        XCTAssertEqual(r.status, .recipientAccepted)
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "read", address: institution, status: .failed), at: t0 + 4), "final again")

        XCTAssertTrue(RecipientStatus.failed.allows(.accepted, receiptHeld: false))
        XCTAssertFalse(RecipientStatus.failed.allows(.accepted, receiptHeld: true))
        XCTAssertTrue(RecipientStatus.failed.allows(.recipientRejected, receiptHeld: true))
        XCTAssertFalse(RecipientStatus.failed.allows(.submitted, receiptHeld: false))
        XCTAssertFalse(RecipientStatus.failed.allows(.failed, receiptHeld: false))
        XCTAssertFalse(RecipientStatus.recipientAccepted.allows(.accepted, receiptHeld: false))
    }

    /// `Failed` is final, but each operator's retry of the recipient's AS4 message has an
    /// outcome of its own: the recipient is failed again once per retry, with its event and
    /// the sender's notice, however often that failure is reported, and never without a retry.
    func testEachRetrysFailureIsToldOnce() throws {
        _ = try store.insertDocument(document("again", recipients: [.init(address: institution, route: .remote, status: .submitted,
                                                                           party: "gw-b", as4MessageId: "as4-again")]), notifications: [], at: t0)
        func fail(_ detail: String, retries: Int, at: Date) throws -> Bool {
            try store.updateRecipient(.init(messageId: "again", address: institution, status: .failed, detail: detail,
                                            notifications: [BackendNotification(address: sender, kind: "failed", messageId: "again",
                                                                                recipient: institution, detail: detail, at: at)],
                                            operatorRetries: retries), at: at)
        }
        XCTAssertTrue(try fail("EBMS:0301: no receipt", retries: 0, at: t0 + 1))
        XCTAssertFalse(try fail("late-error: refused", retries: 0, at: t0 + 2), "no retry: the failure was told")
        XCTAssertTrue(try fail("ReceiptLost: held already", retries: 1, at: t0 + 3), "the first retry's outcome")
        XCTAssertFalse(try fail("ReceiptLost: held already", retries: 1, at: t0 + 4), "told already")
        XCTAssertTrue(try fail("EBMS:0103: refused", retries: 2, at: t0 + 5), "the second retry's outcome")
        XCTAssertFalse(try fail("EBMS:0103: refused", retries: 2, at: t0 + 6), "told already")
        XCTAssertFalse(try fail("late-error: refused", retries: 1, at: t0 + 7), "an outcome before the second retry")

        let told = try store.notifications(after: 0, addresses: [sender], limit: 100).filter { $0.messageId == "again" }
        XCTAssertEqual(told.map(\.kind), ["failed", "failed", "failed"])
        XCTAssertEqual(told.map(\.detail), ["EBMS:0301: no receipt", "ReceiptLost: held already", "EBMS:0103: refused"])
        let events = try store.events(messageId: "again").filter { $0.address == institution && $0.status == "Failed" }
        XCTAssertEqual(events.map(\.detail), ["EBMS:0301: no receipt", "ReceiptLost: held already", "EBMS:0103: refused"])
        let r = try XCTUnwrap(try store.document(messageId: "again")?.recipients.first)
        XCTAssertEqual(r.status, .failed)
        XCTAssertEqual(r.updatedAt, t0 + 5)
    }

    func testOverdueAndUnsentRecipients() throws {
        var due = document("due", recipients: [.init(address: company, route: .mailbox, status: .accepted),
                                               .init(address: institution, route: .remote, status: .submitted, party: "gw-b", as4MessageId: "as4-due")])
        due.deliveryBy = t0 + 60
        _ = try store.insertDocument(due, notifications: [], at: t0)
        var arrived = document("arrived", connection: nil, origin: "gw-x", recipients: [.init(address: sender, route: .mailbox, status: .accepted)])
        arrived.deliveryBy = t0 + 60
        _ = try store.insertDocument(arrived, notifications: [], at: t0)
        _ = try store.insertDocument(document("later"), notifications: [], at: t0)
        XCTAssertEqual(try store.overdueRecipients(now: t0 + 59, limit: 10).count, 0)
        let overdue = try store.overdueRecipients(now: t0 + 60, limit: 10)
        XCTAssertEqual(overdue.map(\.address), [company, institution], "the sender's deadline only; not one that arrived from elsewhere")
        XCTAssertEqual(overdue.map(\.status), [.accepted, .submitted])
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "due", address: company, status: .deliveryDelayed), at: t0 + 61))
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "due", address: institution, status: .failed), at: t0 + 61))
        XCTAssertEqual(try store.overdueRecipients(now: t0 + 120, limit: 10).count, 0, "each recipient once")
        // Read late: the reading is recorded, the recipient stays DeliveryDelayed, and the
        // deadline does not act a second time.
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "due", address: company, status: .delivered, retrieved: true), at: t0 + 130))
        XCTAssertEqual(try store.overdueRecipients(now: t0 + 200, limit: 10).count, 0, "a late read is not delayed again")
        XCTAssertEqual(try store.document(messageId: "due")?.recipients.first { $0.address == company }?.status, .deliveryDelayed)
        XCTAssertTrue(RecipientStatus.deliveryDelayed.allows(.delivered))
        XCTAssertTrue(RecipientStatus.deliveryDelayed.allows(.recipientAccepted))
        XCTAssertTrue(RecipientStatus.deliveryDelayed.allows(.failed), "a hub's refusal may come after the deadline")
        XCTAssertFalse(RecipientStatus.delivered.allows(.failed), "read is never failed")
        // Nor when delayed and read late: a Failed report is still refused.
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "due", address: company, status: .deliveryDelayed), at: t0 + 205))
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "due", address: company, status: .failed), at: t0 + 210))
        XCTAssertEqual(try store.document(messageId: "due")?.recipients.first { $0.address == company }?.status, .deliveryDelayed)
        XCTAssertFalse(RecipientStatus.submitted.allows(.deliveryDelayed), "not taken at all is a failure, not a delay")
        XCTAssertEqual(try store.unsentRemoteRecipients(limit: 10).map(\.as4MessageId), ["as4-later"])
    }

    /// `deliveryBy` judged by when the recipient read, not by when the gateway learnt of it:
    /// read in time is never "not read by the deadline" (its late answer is an AnswerDelayed
    /// event); a reading after the deadline is recorded and the recipient stays DeliveryDelayed;
    /// a reading before it that became known after it makes the recipient Delivered.
    func testTheDeadlineJudgesByTheReadingTime() throws {
        func sent(_ id: String) -> NewDocument {
            var d = document(id, recipients: [.init(address: company, route: .mailbox, status: .accepted)])
            d.deliveryBy = t0 + 60
            return d
        }
        func recipient(_ id: String) throws -> DocumentRecipient { try XCTUnwrap(try store.document(messageId: id)?.recipients.first) }
        func feed(_ id: String) throws -> [BackendNotification] {
            try store.notifications(after: 0, addresses: [sender], limit: 100).filter { $0.messageId == id }
        }
        func reading(_ id: String, at read: Date? = nil) -> RecipientUpdate {
            .init(messageId: id, address: company, status: .delivered, detail: "retrieved by company", retrieved: true, retrievedAt: read,
                  notifications: [BackendNotification(address: sender, kind: "delivered", messageId: id, recipient: company, detail: nil, at: t0)])
        }
        let answer = RecipientDecision(accepted: true, code: nil, reason: nil, at: t0 + 300)

        // Read in time, not answered: Delivered it stays; the answer is what is late.
        _ = try store.insertDocument(sent("intime"), notifications: [], at: t0)
        XCTAssertTrue(try store.updateRecipient(reading("intime"), at: t0 + 10))
        XCTAssertEqual(try store.overdueRecipients(now: t0 + 60, limit: 10).map(\.status), [.delivered])
        XCTAssertFalse(try store.updateRecipient(.init(messageId: "intime", address: company, status: .deliveryDelayed,
                                                       detail: "not read by the deadline"), at: t0 + 61),
                       "a recipient who read before the deadline is never marked as not having read it")
        XCTAssertFalse(try store.recordAnswerDelayed(messageId: "intime", address: company, detail: "early", notifications: [], at: t0 + 59),
                       "not before the deadline")
        let notice = BackendNotification(address: sender, kind: RecipientStatus.answerDelayedNotification, messageId: "intime",
                                         recipient: company, detail: "read in time, not answered", at: t0)
        XCTAssertTrue(try store.recordAnswerDelayed(messageId: "intime", address: company, detail: "read in time, not answered",
                                                    notifications: [notice], at: t0 + 61))
        XCTAssertEqual(try recipient("intime").status, .delivered)
        XCTAssertEqual(try recipient("intime").retrievedAt, t0 + 10)
        XCTAssertEqual(try store.events(messageId: "intime").map(\.status), ["Accepted", "Delivered", "AnswerDelayed"])
        XCTAssertEqual(try feed("intime").map(\.kind), ["delivered", "answerDelayed"])
        XCTAssertEqual(try store.overdueRecipients(now: t0 + 120, limit: 10).count, 0, "the deadline acted once")
        XCTAssertFalse(try store.recordAnswerDelayed(messageId: "intime", address: company, detail: "again", notifications: [notice], at: t0 + 62))
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "intime", address: company, status: .recipientAccepted, decision: answer), at: t0 + 300))
        XCTAssertThrowsError(try store.recordAnswerDelayed(messageId: "intime", address: "nobody@x", detail: "d", notifications: [], at: t0 + 61)) {
            XCTAssertEqual($0 as? MailboxStoreError, .notFound("message intime has no recipient nobody@x"))
        }

        // Not read by the deadline, read after it: the reading is recorded with its time, the
        // status stays DeliveryDelayed, and the event and notification say so.
        _ = try store.insertDocument(sent("late"), notifications: [], at: t0)
        XCTAssertFalse(try store.recordAnswerDelayed(messageId: "late", address: company, detail: "d", notifications: [], at: t0 + 61),
                       "not read: no answer is due yet")
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "late", address: company, status: .deliveryDelayed, detail: "not read by the deadline"),
                                                at: t0 + 61))
        XCTAssertTrue(try store.updateRecipient(reading("late"), at: t0 + 90))
        var r = try recipient("late")
        XCTAssertEqual(r.status, .deliveryDelayed, "the delay is not erased by the late reading")
        XCTAssertEqual(r.retrievedAt, t0 + 90)
        let events = try store.events(messageId: "late")
        XCTAssertEqual(events.map(\.status), ["Accepted", "DeliveryDelayed", "Delivered"])
        XCTAssertEqual(events.last?.at, t0 + 90)
        XCTAssertTrue(events.last?.detail?.hasPrefix("retrieved by company; read at ") == true, "\(events)")
        XCTAssertTrue(events.last?.detail?.contains("after the deadline") == true, "\(events)")
        XCTAssertTrue(events.last?.detail?.hasSuffix("it stays DeliveryDelayed") == true, "\(events)")
        let lateFeed = try feed("late")
        XCTAssertTrue(lateFeed.last?.detail?.contains("after the deadline") == true, "\(lateFeed)")
        XCTAssertFalse(try store.updateRecipient(reading("late"), at: t0 + 95), "the first reading is the one recorded")
        XCTAssertEqual(try recipient("late").retrievedAt, t0 + 90)
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "late", address: company, status: .recipientAccepted, decision: answer), at: t0 + 300))

        // Read before the deadline, but the report of it came after the deadline had acted (a
        // remote access point reports later): Delivered, as it was.
        _ = try store.insertDocument(sent("reported"), notifications: [], at: t0)
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "reported", address: company, status: .deliveryDelayed), at: t0 + 61))
        XCTAssertTrue(try store.updateRecipient(reading("reported", at: t0 + 50), at: t0 + 70))
        r = try recipient("reported")
        XCTAssertEqual(r.status, .delivered)
        XCTAssertEqual(r.retrievedAt, t0 + 50)
        XCTAssertTrue(try store.events(messageId: "reported").last?.detail?.contains("before the deadline") == true)

        // Read after the deadline before the deadline acted (the worker was stopped): the deadline
        // still finds it not read in time.
        _ = try store.insertDocument(sent("unseen"), notifications: [], at: t0)
        XCTAssertTrue(try store.updateRecipient(reading("unseen"), at: t0 + 70))
        XCTAssertFalse(try store.recordAnswerDelayed(messageId: "unseen", address: company, detail: "d", notifications: [], at: t0 + 75))
        XCTAssertTrue(try store.updateRecipient(.init(messageId: "unseen", address: company, status: .deliveryDelayed), at: t0 + 75))
        XCTAssertEqual(try recipient("unseen").status, .deliveryDelayed)
        XCTAssertEqual(try store.overdueRecipients(now: t0 + 120, limit: 10).count, 0)
    }

    func testUploadsChunkInOrderCompleteOnceAndAreTakenByOneDocument() throws {
        var u = Upload(id: "u1", connection: "dms", name: "big.bin", mimeType: "application/octet-stream", size: 25, chunkSize: 10,
                       path: "/tmp/u1", createdAt: t0)
        XCTAssertEqual(u.chunkCount, 3)
        XCTAssertEqual([1, 2, 3].map(u.length(ofChunk:)), [10, 10, 5])
        try store.createUpload(u)
        XCTAssertEqual(try store.openUploads(connection: "dms").map(\.id), ["u1"])
        XCTAssertEqual(try store.openUploads(connection: "someone-else").count, 0)
        XCTAssertThrowsError(try store.recordChunk(uploadId: "u1", number: 2, at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .conflict("upload u1 expects chunk 1, not 2"))
        }
        XCTAssertThrowsError(try store.completeUpload(id: "u1", sha256: String(repeating: "a", count: 64), at: t0))
        for n in 1...3 { try store.recordChunk(uploadId: "u1", number: n, at: t0) }
        XCTAssertThrowsError(try store.recordChunk(uploadId: "u1", number: 3, at: t0), "a chunk twice")
        try store.completeUpload(id: "u1", sha256: String(repeating: "a", count: 64), at: t0 + 1)
        XCTAssertThrowsError(try store.completeUpload(id: "u1", sha256: String(repeating: "a", count: 64), at: t0 + 2))
        u = try XCTUnwrap(try store.upload(id: "u1"))
        XCTAssertEqual(u.received, 3)
        XCTAssertEqual(u.completedAt, t0 + 1)

        var doc = document("m")
        doc.uploads = ["u1"]
        var stolen = document("m2", connection: "thief")
        stolen.uploads = ["u1"]
        XCTAssertThrowsError(try store.insertDocument(stolen, notifications: [], at: t0), "another connection's upload")
        XCTAssertNil(try store.document(messageId: "m2"), "and nothing of that document stays")
        XCTAssertEqual(try store.insertDocument(doc, notifications: [], at: t0), .stored)
        XCTAssertEqual(try store.upload(id: "u1")?.usedBy, "m")
        XCTAssertEqual(try store.openUploads(connection: "dms").count, 0, "taken by a document: no longer open")
        var twice = document("m3")
        twice.uploads = ["u1"]
        XCTAssertThrowsError(try store.insertDocument(twice, notifications: [], at: t0), "an upload is sent once")

        try store.createUpload(Upload(id: "u2", connection: "dms", name: "left.bin", mimeType: "x/y", size: 5, chunkSize: 10, path: "/tmp/u2", createdAt: t0))
        try store.createUpload(Upload(id: "u3", connection: "other", name: "o.bin", mimeType: "x/y", size: 5, chunkSize: 10, path: "/tmp/u3", createdAt: t0 + 1))
        XCTAssertEqual(try store.openUploads(connection: nil).map(\.id), ["u2", "u3"], "every connection's, u1 was sent")
        XCTAssertEqual(try store.openUploads(connection: "other").map(\.id), ["u3"])
        XCTAssertTrue(try store.deleteUpload(id: "u3"))
        XCTAssertEqual(try store.abandonedUploads(createdBefore: t0 + 10, limit: 10).map(\.id), ["u2"], "u1 was sent")
        XCTAssertFalse(try store.deleteUpload(id: "u1"))
        XCTAssertTrue(try store.deleteUpload(id: "u2"))
        XCTAssertNil(try store.upload(id: "u2"))
    }
}
