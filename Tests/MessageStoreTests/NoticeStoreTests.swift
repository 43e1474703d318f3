import Foundation
@testable import MessageStore
import XCTest

/// E-mail notices: contacts, one notice per newMessage arrival with the mailer's position moved
/// in the same transaction, attempts that only touch pending notices, and counts by status.
class NoticeStoreTests: StoreTestCase {
    let person = "_PRIVATE@16117519997", company = "_DEFAULT@40003032949", institution = "_DEFAULT@90000048472"

    func arrive(_ mailbox: any MailboxStore, _ id: String, to recipients: [String]) throws {
        let document = NewDocument(messageId: id, connection: "dms", idempotencyKey: nil, sender: "DVS@90000048472", metadata: "{}",
                                   originParty: nil, originMessageId: nil,
                                   files: [DocumentFile(name: "f", mimeType: "text/plain", file: StoredFile(path: "/p", size: 1, sha256: String(repeating: "a", count: 64)))],
                                   recipients: recipients.map { .init(address: $0, route: .mailbox, status: .accepted) })
        let notices = recipients.map { BackendNotification(address: $0, kind: "newMessage", messageId: id, recipient: nil, detail: nil, at: t0) }
            + [BackendNotification(address: "DVS@90000048472", kind: "statusChanged", messageId: id, recipient: recipients[0], detail: nil, at: t0)]
        XCTAssertEqual(try mailbox.insertDocument(document, notifications: notices, at: t0), .stored)
    }

    func testContactsArrivalsAttemptsAndCounts() throws {
        let mailbox = try openMailboxStore()
        let store = try openNoticeStore()
        defer { store.close(); mailbox.close() }

        XCTAssertNil(try store.contact(address: person))
        try store.setContact(NoticeContact(address: person, email: "a@example.lv", updatedAt: t0, updatedBy: "person"))
        try store.setContact(NoticeContact(address: person, email: "b@example.lv", updatedAt: t0 + 1, updatedBy: "ops"))
        XCTAssertEqual(try store.contact(address: person), NoticeContact(address: person, email: "b@example.lv", updatedAt: t0 + 1, updatedBy: "ops"))
        XCTAssertFalse(try store.removeContact(address: company))

        try arrive(mailbox, "m1", to: [person, company])
        var (upTo, arrivals) = try store.unnoticedArrivals(limit: 10)
        XCTAssertEqual(arrivals.map(\.address), [person, company], "newMessage only, oldest first")
        XCTAssertEqual(upTo, 3, "past the statusChanged notification too")
        try store.recordNotices([NewEmailNotice(notificationId: arrivals[0].id, address: person, messageId: "m1", email: "b@example.lv"),
                                 NewEmailNotice(notificationId: arrivals[1].id, address: company, messageId: "m1", email: nil)], upTo: upTo, at: t0)
        (upTo, arrivals) = try store.unnoticedArrivals(limit: 10)
        XCTAssertEqual(upTo, 3)
        XCTAssertTrue(arrivals.isEmpty, "the position moved with the notices")
        // Recording the same notification again (a mailer that died before its position moved) adds nothing.
        try store.recordNotices([NewEmailNotice(notificationId: 1, address: person, messageId: "m1", email: "b@example.lv")], upTo: 1, at: t0)
        XCTAssertEqual(try store.notices(address: nil, status: nil, after: 0, limit: 10).count, 2)
        XCTAssertEqual(try store.unnoticedArrivals(limit: 10).upTo, 3, "the position never moves back")

        XCTAssertEqual(try store.notices(address: company, status: nil, after: 0, limit: 10).map(\.status), [.noContact])
        let due = try store.dueNotices(now: t0, limit: 10)
        XCTAssertEqual(due.map(\.address), [person])
        let id = due[0].id
        XCTAssertTrue(try store.claimNotice(id: id, until: t0 + 300, now: t0))
        XCTAssertFalse(try store.claimNotice(id: id, until: t0 + 300, now: t0), "a second mailer finds it taken")
        XCTAssertTrue(try store.dueNotices(now: t0 + 299, limit: 10).isEmpty, "not due while claimed")
        XCTAssertTrue(try store.recordAttempt(id: id, .retry(error: "SMTP 451", nextAttemptAt: t0 + 30), at: t0))
        XCTAssertTrue(try store.dueNotices(now: t0 + 29, limit: 10).isEmpty)
        XCTAssertEqual(try store.dueNotices(now: t0 + 30, limit: 10).first?.attempts, 1)
        XCTAssertTrue(try store.recordAttempt(id: id, .failed(error: "SMTP 550"), at: t0 + 31))
        XCTAssertFalse(try store.recordAttempt(id: id, .sent, at: t0 + 32), "a failed notice stays failed")
        let failed = try XCTUnwrap(try store.notices(address: person, status: .failed, after: 0, limit: 10).first)
        XCTAssertEqual(failed.attempts, 2)
        XCTAssertEqual(failed.lastError, "SMTP 550")
        XCTAssertEqual(failed.finishedAt, t0 + 31)
        XCTAssertNil(failed.nextAttemptAt)
        XCTAssertEqual(try store.noticeCounts(), [.pending: 0, .sent: 0, .failed: 1, .noContact: 1, .withdrawn: 0])

        try arrive(mailbox, "m2", to: [person])
        (upTo, arrivals) = try store.unnoticedArrivals(limit: 10)
        try store.recordNotices([NewEmailNotice(notificationId: arrivals[0].id, address: person, messageId: "m2", email: "b@example.lv")], upTo: upTo, at: t0 + 40)
        let second = try XCTUnwrap(try store.dueNotices(now: t0 + 40, limit: 10).first)
        XCTAssertTrue(try store.recordAttempt(id: second.id, .sent, at: t0 + 41))
        XCTAssertEqual(try store.noticeCounts()[.sent], 1)
        XCTAssertEqual(try store.notices(address: nil, status: nil, after: second.id - 1, limit: 10).map(\.messageId), ["m2"], "paging by id")
    }

    /// A mailer that never ran on the store starts at the newest notification, once: a
    /// position already there (an earlier run's, another node's) stays.
    func testTheFirstPositionIsTheNewestNotification() throws {
        let mailbox = try openMailboxStore()
        let store = try openNoticeStore()
        defer { store.close(); mailbox.close() }
        try arrive(mailbox, "before", to: [person])
        XCTAssertEqual(try store.unnoticedArrivals(limit: 10).arrivals.map(\.messageId), ["before"], "no position: the feed from its start")
        let first = try store.startPosition()
        XCTAssertEqual(first.position, 2)
        XCTAssertTrue(first.started)
        XCTAssertTrue(try store.unnoticedArrivals(limit: 10).arrivals.isEmpty, "what came before is not announced")
        try arrive(mailbox, "after", to: [person])
        let again = try store.startPosition()
        XCTAssertEqual(again.position, 2, "a position is kept")
        XCTAssertFalse(again.started)
        let (upTo, arrivals) = try store.unnoticedArrivals(limit: 10)
        XCTAssertEqual(arrivals.map(\.messageId), ["after"])
        try store.recordNotices([], upTo: upTo, at: t0)
        XCTAssertEqual(try store.startPosition().position, 4)
    }

    /// A pending notice whose document no longer waits ends `withdrawn`: finished, unsent, not an
    /// attempt, never due again; only a pending notice can be withdrawn.
    func testAPendingNoticeIsWithdrawnOnce() throws {
        let mailbox = try openMailboxStore()
        let store = try openNoticeStore()
        defer { store.close(); mailbox.close() }
        try arrive(mailbox, "m1", to: [person])
        try arrive(mailbox, "m2", to: [person])
        let (upTo, arrivals) = try store.unnoticedArrivals(limit: 10)
        try store.recordNotices(arrivals.map { NewEmailNotice(notificationId: $0.id, address: person, messageId: $0.messageId, email: "a@example.lv") },
                                upTo: upTo, at: t0)
        let due = try store.dueNotices(now: t0, limit: 10)
        XCTAssertEqual(due.map(\.messageId), ["m1", "m2"])
        XCTAssertTrue(try store.recordAttempt(id: due[0].id, .retry(error: "SMTP 451", nextAttemptAt: t0 + 30), at: t0))
        XCTAssertTrue(try store.recordAttempt(id: due[1].id, .sent, at: t0))

        XCTAssertTrue(try store.withdrawNotice(id: due[0].id, reason: "the document was read before the notice was sent", at: t0 + 40))
        let withdrawn = try XCTUnwrap(try store.notices(address: person, status: .withdrawn, after: 0, limit: 10).first)
        XCTAssertEqual(withdrawn.id, due[0].id)
        XCTAssertEqual(withdrawn.attempts, 1, "withdrawing is not an attempt")
        XCTAssertEqual(withdrawn.lastError, "the document was read before the notice was sent")
        XCTAssertEqual(withdrawn.finishedAt, t0 + 40)
        XCTAssertNil(withdrawn.nextAttemptAt)
        XCTAssertTrue(try store.dueNotices(now: t0 + 3600, limit: 10).isEmpty, "never due again")
        XCTAssertFalse(try store.claimNotice(id: due[0].id, until: t0 + 400, now: t0 + 3600))
        XCTAssertFalse(try store.recordAttempt(id: due[0].id, .sent, at: t0 + 41), "a withdrawn notice stays withdrawn")
        XCTAssertFalse(try store.withdrawNotice(id: due[0].id, reason: "again", at: t0 + 42), "withdrawn once")
        XCTAssertFalse(try store.withdrawNotice(id: due[1].id, reason: "too late", at: t0 + 42), "a sent notice stays sent")
        XCTAssertFalse(try store.withdrawNotice(id: 999, reason: "none", at: t0 + 42))
        XCTAssertEqual(try store.notices(address: nil, status: .withdrawn, after: 0, limit: 10).map(\.lastError),
                       ["the document was read before the notice was sent"])
        XCTAssertEqual(try store.noticeCounts(), [.pending: 0, .sent: 1, .failed: 0, .noContact: 0, .withdrawn: 1])
    }

    /// A claim given back unused (the mail server was unreachable): due again at its old time,
    /// before a notice due later, with no attempt counted; a claim taken again since, or a notice
    /// finished meanwhile, is not given back.
    func testAClaimGivenBackKeepsTheNoticesPlaceAndAttempts() throws {
        let mailbox = try openMailboxStore()
        let store = try openNoticeStore()
        defer { store.close(); mailbox.close() }
        for id in ["m1", "m2", "m3"] { try arrive(mailbox, id, to: [person]) }
        let (upTo, arrivals) = try store.unnoticedArrivals(limit: 10)
        try store.recordNotices(arrivals.map { NewEmailNotice(notificationId: $0.id, address: person, messageId: $0.messageId, email: "a@example.lv") },
                                upTo: upTo, at: t0)
        let due = try store.dueNotices(now: t0, limit: 10)
        XCTAssertEqual(due.map(\.messageId), ["m1", "m2", "m3"])
        let firstDue = try XCTUnwrap(due[0].nextAttemptAt)
        XCTAssertTrue(try store.claimNotice(id: due[0].id, until: t0 + 300, now: t0))
        XCTAssertEqual(try store.dueNotices(now: t0 + 1, limit: 10).map(\.messageId), ["m2", "m3"], "claimed: not due")
        XCTAssertTrue(try store.releaseNotice(id: due[0].id, claimedUntil: t0 + 300, dueAt: firstDue))
        let again = try store.dueNotices(now: t0 + 1, limit: 10)
        XCTAssertEqual(again.map(\.messageId), ["m1", "m2", "m3"], "first in line again")
        XCTAssertEqual(again[0].attempts, 0)
        XCTAssertEqual(again[0].nextAttemptAt, firstDue)
        XCTAssertNil(again[0].lastError)

        // Claimed again by another mailer later: its claim ends later and is not given back by the first one.
        XCTAssertTrue(try store.claimNotice(id: due[0].id, until: t0 + 300, now: t0))
        XCTAssertTrue(try store.claimNotice(id: due[0].id, until: t0 + 900, now: t0 + 400))
        XCTAssertFalse(try store.releaseNotice(id: due[0].id, claimedUntil: t0 + 300, dueAt: firstDue))
        XCTAssertEqual(try store.dueNotices(now: t0 + 500, limit: 10).map(\.messageId), ["m2", "m3"])
        // A notice finished meanwhile stays finished.
        XCTAssertTrue(try store.claimNotice(id: due[1].id, until: t0 + 300, now: t0))
        XCTAssertTrue(try store.recordAttempt(id: due[1].id, .sent, at: t0 + 1))
        XCTAssertFalse(try store.releaseNotice(id: due[1].id, claimedUntil: t0 + 300, dueAt: t0))
        XCTAssertEqual(try store.noticeCounts(), [.pending: 2, .sent: 1, .failed: 0, .noContact: 0, .withdrawn: 0])
    }

    /// The migration that allows `withdrawn` rebuilds (SQLite) or re-constrains (PostgreSQL) the
    /// notices of a database written before it: every notice stays as it was, ids are not
    /// handed out again, the indexes are there, and the CHECK keeps every other rule.
    func testADatabaseWrittenBeforeWithdrawalsUpgradesAndKeepsItsNotices() throws {
        let added = try XCTUnwrap((Self.backend == .sqlite ? Schema.migrations : PostgresSchema.migrations)
            .first { $0.sql == (Self.backend == .sqlite ? NoticeWithdrawalSchema.sqlite : NoticeWithdrawalSchema.postgres) }?.version)
        XCTAssertEqual(added, Self.backend == .sqlite ? 25 : 24)
        try createDatabase(before: added)
        let ms = t0.storeMilliseconds
        // Notification ids 1...5, one notice of each status and a fifth removed (its id must not come back).
        let rows = [(1, "pending", "'a@example.lv'", "0", "\(ms + 30_000)", "'SMTP 451'", "NULL"),
                    (2, "sent", "'a@example.lv'", "1", "NULL", "NULL", "\(ms + 1_000)"),
                    (3, "failed", "'a@example.lv'", "3", "NULL", "'SMTP 550'", "\(ms + 2_000)"),
                    (4, "noContact", "NULL", "0", "NULL", "NULL", "\(ms)"),
                    (5, "sent", "'a@example.lv'", "1", "NULL", "NULL", "\(ms + 1)")]
        for (n, status, email, attempts, next, error, finished) in rows {
            try rawSQL("""
                INSERT INTO email_notices (notification_id, address, message_id, email, status, attempts, next_attempt_at, last_error, created_at, finished_at)
                VALUES (\(n), '\(person)', 'm\(n)', \(email), '\(status)', \(attempts), \(next), \(error), \(ms), \(finished))
                """)
        }
        try rawSQL("DELETE FROM email_notices WHERE notification_id = 5")

        let store = try openNoticeStore()
        defer { store.close() }
        let kept = try store.notices(address: nil, status: nil, after: 0, limit: 10)
        XCTAssertEqual(kept.map(\.id), [1, 2, 3, 4])
        XCTAssertEqual(kept.map(\.status), [.pending, .sent, .failed, .noContact])
        XCTAssertEqual(kept.map(\.attempts), [0, 1, 3, 0])
        XCTAssertEqual(kept.map(\.lastError), ["SMTP 451", nil, "SMTP 550", nil])
        XCTAssertEqual(kept.map(\.nextAttemptAt), [t0 + 30, nil, nil, nil])
        XCTAssertEqual(kept.map(\.finishedAt), [nil, t0 + 1, t0 + 2, t0])
        XCTAssertEqual(kept.map(\.email), ["a@example.lv", "a@example.lv", "a@example.lv", nil])
        XCTAssertEqual(kept.map(\.createdAt), [t0, t0, t0, t0])
        XCTAssertEqual(try store.dueNotices(now: t0 + 30, limit: 10).map(\.id), [1])

        XCTAssertTrue(try store.withdrawNotice(id: 1, reason: "the document was purged before the notice was sent", at: t0 + 40))
        XCTAssertEqual(try store.noticeCounts(), [.pending: 0, .sent: 1, .failed: 1, .noContact: 1, .withdrawn: 1])
        try store.recordNotices([NewEmailNotice(notificationId: 6, address: person, messageId: "m6", email: "a@example.lv")], upTo: 6, at: t0 + 50)
        XCTAssertEqual(try store.notices(address: nil, status: .pending, after: 0, limit: 10).map(\.id), [6], "no id handed out twice")
        XCTAssertThrowsError(try rawSQL("""
            INSERT INTO email_notices (notification_id, address, message_id, email, status, created_at, finished_at)
            VALUES (6, '\(person)', 'again', 'a@example.lv', 'sent', \(ms), \(ms))
            """), "notification_id is still unique")
        // The widened CHECK still holds every other rule.
        for bad in ["'bogus', NULL", "'withdrawn', \(ms)", "'pending', NULL"] {
            XCTAssertThrowsError(try rawSQL("""
                INSERT INTO email_notices (notification_id, address, message_id, email, status, next_attempt_at, created_at)
                VALUES (99, '\(person)', 'bad', 'a@example.lv', \(bad), \(ms))
                """), bad)
        }
        let indexes: [String]
        switch Self.backend {
        case .sqlite:
            let c = try SQLiteConnection(path: dataDirectory + "/messages.sqlite")
            defer { c.close() }
            XCTAssertEqual(try c.pragma("integrity_check"), "ok")
            indexes = try c.query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'email_notices' AND sql IS NOT NULL ORDER BY name") {
                $0.string("name")
            }
            XCTAssertEqual(try c.query("SELECT name FROM sqlite_schema WHERE name LIKE 'email_notices_rebuilt%'") { $0.string("name") }, [])
        case .postgres:
            let c = try PostgresConnection(url: postgresURL)
            defer { c.close() }
            indexes = try c.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'email_notices' AND indexname LIKE 'email_notices_%' ORDER BY indexname")
                .rows.map { $0.string("indexname") }
        }
        XCTAssertEqual(indexes.filter { $0.hasSuffix("_due") || $0.hasSuffix("_by_address") }, ["email_notices_by_address", "email_notices_due"])
    }

    func testAnEmptyFeedStartsAtZero() throws {
        let store = try openNoticeStore()
        defer { store.close() }
        XCTAssertEqual(try store.startPosition().position, 0)
        XCTAssertFalse(try store.startPosition().started)
    }
}
