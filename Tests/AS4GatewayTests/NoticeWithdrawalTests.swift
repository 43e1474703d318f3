@testable import AS4Gateway
import Foundation
import HTTPClient
import MessageStore
import XCTest

/// A notice whose first attempt failed is retried later: by then the recipient may have read the
/// document, or it may have been purged, and "a message waits" would be untrue. The mailer asks
/// again before every attempt; such a notice ends `withdrawn`, unsent. One still unread is sent.
final class NoticeWithdrawalTests: XCTestCase {
    static let person = NoticeTestMailbox.person

    func setUp(_ ids: [String], purgeable: Set<String> = []) throws -> NoticeTestMailbox {
        let mailbox = try NoticeTestMailbox()
        let context = mailbox.context
        // Sends to a server that answers the person's address 451: every first attempt fails (retried).
        let refused = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: refused) }
        let port = try BackendAPINoticeTests.startSink(refused, arguments: ["--refuse", "janis@example.lv=451"], for: self)
        var settings = NoticeSettings(smtp: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
        settings.startTLS = "off"
        let down = NoticeMailer(context: context, settings: settings, notices: context.notices)
        try down.takePosition()
        // Due for purging from the start; purged only when the test runs the purge.
        for id in ids { try mailbox.arrive(id, retainUntil: purgeable.contains(id) ? Date().addingTimeInterval(-1) : nil) }
        try down.recordArrivals(now: Date())
        var server = down.newMailServer()
        try down.sendDue(now: Date(), server: &server)
        let pending = try context.notices.notices(address: nil, status: .pending, after: 0, limit: 100)
        XCTAssertEqual(pending.map(\.messageId), ids, "every first attempt failed and waits for a retry")
        XCTAssertEqual(pending.map(\.attempts), ids.map { _ in 1 })
        return mailbox
    }

    /// A mailer sending to an SMTP sink (Tests/interop/smtp_sink.py) writing to `out`.
    func working(_ s: NoticeTestMailbox, out: String) throws -> NoticeMailer {
        let port = try BackendAPINoticeTests.startSink(out, arguments: [], for: self)
        var settings = NoticeSettings(smtp: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
        settings.startTLS = "off"
        return NoticeMailer(context: s.context, settings: settings, notices: s.context.notices)
    }

    func notice(_ s: NoticeTestMailbox, _ messageId: String) throws -> EmailNotice {
        try XCTUnwrap(try s.context.notices.notices(address: nil, status: nil, after: 0, limit: 100).first { $0.messageId == messageId })
    }

    func testARetryOfADocumentReadOrPurgedMeanwhileIsWithdrawnUnsent() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let s = try setUp(["read-meanwhile", "purged-meanwhile"], purgeable: ["purged-meanwhile"])
        XCTAssertTrue(try s.context.mailbox.updateRecipient(RecipientUpdate(messageId: "read-meanwhile", address: Self.person, status: .delivered,
                                                                              retrieved: true), at: Date()))
        let purge = try RetentionPurge(store: s.context.retention, log: nil, by: "test").run(now: Date(), trustClock: true)
        XCTAssertEqual(purge.purged.map(\.messageId), ["purged-meanwhile"])

        let mailer = try working(s, out: out)
        var server = mailer.newMailServer()
        let retryTime = Date().addingTimeInterval(3600)
        try mailer.sendDue(now: retryTime, server: &server)

        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/1.eml"), "no e-mail for a document that no longer waits")
        let read = try notice(s, "read-meanwhile"), purged = try notice(s, "purged-meanwhile")
        for (n, reason) in [(read, "the document was read before the notice was sent"), (purged, "the document was purged before the notice was sent")] {
            XCTAssertEqual(n.status, .withdrawn, n.messageId)
            XCTAssertEqual(n.lastError, reason)
            XCTAssertNotNil(n.finishedAt)
            XCTAssertNil(n.nextAttemptAt)
            XCTAssertEqual(n.attempts, 1, "withdrawing is not an attempt")
        }
        XCTAssertEqual(try s.context.notices.noticeCounts()[.withdrawn], 2)
        XCTAssertEqual(s.context.metrics.noticesWithdrawn.load(ordering: .relaxed), 2)
        XCTAssertEqual(try s.context.notices.notices(address: Self.person, status: .withdrawn, after: 0, limit: 10).map(\.messageId),
                       ["read-meanwhile", "purged-meanwhile"])

        // Logged once each, at info level, with the address pseudonymised like every notice event.
        try mailer.sendDue(now: retryTime.addingTimeInterval(3600), server: &server)
        let lines = s.node.log.split(separator: "\n").filter { $0.contains("event=notice-withdrawn") }
        XCTAssertEqual(lines.count, 2, s.node.log)
        for (line, n) in zip(lines, [read, purged]) {
            XCTAssertTrue(line.contains("level=info"), String(line))
            XCTAssertTrue(line.contains("notice=\(n.id)") && line.contains("document_id=\(n.messageId)"), String(line))
            XCTAssertTrue(line.contains("address=_PRIVATE@~") && !line.contains("16117519997"), String(line))
            XCTAssertTrue(line.contains(n.lastError ?? "?"), String(line))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/1.eml"))
    }

    func testARetryOfADocumentStillUnreadIsSent() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let s = try setUp(["still-waiting"])
        let mailer = try working(s, out: out)
        var server = mailer.newMailServer()
        try mailer.sendDue(now: Date().addingTimeInterval(3600), server: &server)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/1.eml"))
        let sent = try notice(s, "still-waiting")
        XCTAssertEqual(sent.status, .sent)
        XCTAssertEqual(sent.attempts, 2)
        XCTAssertFalse(s.node.log.contains("event=notice-withdrawn"), s.node.log)
    }
}
