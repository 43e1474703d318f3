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
        XCTAssertEqual(try store.noticeCounts(), [.pending: 0, .sent: 0, .failed: 1, .noContact: 1])

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

    func testAnEmptyFeedStartsAtZero() throws {
        let store = try openNoticeStore()
        defer { store.close() }
        XCTAssertEqual(try store.startPosition().position, 0)
        XCTAssertFalse(try store.startPosition().started)
    }
}

final class PostgresNoticeStoreTests: NoticeStoreTests {
    override class var backend: StoreBackend { .postgres }
    override func testContactsArrivalsAttemptsAndCounts() throws { try super.testContactsArrivalsAttemptsAndCounts() }
    override func testTheFirstPositionIsTheNewestNotification() throws { try super.testTheFirstPositionIsTheNewestNotification() }
    override func testAnEmptyFeedStartsAtZero() throws { try super.testAnEmptyFeedStartsAtZero() }
}
