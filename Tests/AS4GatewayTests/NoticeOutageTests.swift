@testable import AS4Gateway
import Foundation
import HTTPClient
import MessageStore
import XCTest

/// A mail server that cannot be reached is an outage of the server, not a fault of any notice:
/// no attempt is spent however long it lasts, the mailer waits with growing pauses, says so once
/// in the log and in `/metrics`, and sends in order once the server answers. A refusal the server
/// gives to one notice still spends that notice's attempt. Withdrawals do not wait for a sender.
final class NoticeOutageTests: XCTestCase {
    static let person = NoticeTestMailbox.person

    /// The mailer's own thread against a closed port for many times its notices' whole retry
    /// schedule (2 attempts 0.05 s apart, a round every 0.25 s): both notices stay pending with no
    /// attempt spent. A server then started on that port gets them, oldest first.
    func testAnOutageLongerThanTheRetryScheduleSpendsNoAttemptAndTheNoticesGoOutInOrderAfter() throws {
        let s = try NoticeTestMailbox()
        let port = GatewayHarness.freePort()
        let mailer = NoticeMailer(context: s.context, settings: NoticeTestMailbox.settings(port: port), notices: s.context.notices,
                                  outageWaits: SMTPOutage(first: 0.05, longest: 0.2))
        try mailer.takePosition()
        try s.arrive("first")
        try s.arrive("second")
        mailer.start()
        defer { XCTAssertTrue(mailer.stop(deadline: Date().addingTimeInterval(10))) }

        let deadline = Date().addingTimeInterval(10)
        while s.lines("notice-smtp-unreachable").isEmpty, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(try s.scrape().value("as4gw_notice_smtp_up"), 0)
        // Eight times the notices' retry schedule, with the mailer trying every 0.2 s at most.
        let outageEnds = Date().addingTimeInterval(1.2)
        while Date() < outageEnds {
            let notices = try s.allNotices()
            XCTAssertEqual(notices.map(\.status), [.pending, .pending], "\(notices)")
            XCTAssertEqual(notices.map(\.attempts), [0, 0], "no attempt is spent on an unreachable server")
            if notices.contains(where: { $0.status != .pending }) { break }
            Thread.sleep(forTimeInterval: 0.05)
        }

        let out = smtpOutFolder()
        XCTAssertEqual(try BackendAPINoticeTests.startSink(out, arguments: ["--port", String(port)], for: self), port)
        let sent = Date().addingTimeInterval(10)
        while try s.allNotices().contains(where: { $0.status != .sent }), Date() < sent { Thread.sleep(forTimeInterval: 0.02) }
        let notices = try s.allNotices()
        XCTAssertEqual(notices.map(\.status), [.sent, .sent])
        XCTAssertEqual(notices.map(\.attempts), [1, 1], "the attempt that reached the server is the first")
        XCTAssertTrue(try String(contentsOfFile: out + "/1.eml", encoding: .utf8).contains("Message-ID: <notice-\(notices.first?.id ?? 0)@"), "oldest first")
        XCTAssertTrue(try String(contentsOfFile: out + "/2.eml", encoding: .utf8).contains("Message-ID: <notice-\(notices.last?.id ?? 0)@"))

        // Once when it began, once when it ended; nothing per try or per notice.
        let began = s.lines("notice-smtp-unreachable"), ended = s.lines("notice-smtp-reachable")
        XCTAssertEqual(began.count, 1, s.node.log)
        XCTAssertEqual(ended.count, 1, s.node.log)
        let beginning = began.first ?? "", end = ended.first ?? ""
        XCTAssertTrue(beginning.contains("level=error") && beginning.contains("curl 7"), String(beginning))
        XCTAssertTrue(end.contains("level=info") && end.contains("curl 7"), String(end))
        XCTAssertTrue(s.lines("notice-retry").isEmpty && s.lines("notice-failed").isEmpty, s.node.log)
        // The mailer counts a notice after the store has it sent.
        let counted = Date().addingTimeInterval(10)
        while try s.scrape().value("as4gw_notices_total", ["result": "sent"]) ?? 0 < 2, Date() < counted { Thread.sleep(forTimeInterval: 0.02) }
        let metrics = try s.scrape()
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_up"), 1)
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_outages_total", ["reason": "unreachable"]), 1)
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_outages_total", ["reason": "refused"]), 0)
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_refused"), 0)
        XCTAssertEqual(metrics.value("as4gw_notices_total", ["result": "retried"]), 0)
        XCTAssertEqual(metrics.value("as4gw_notices_total", ["result": "sent"]), 2)
    }

    /// Driven round by round: the waits double up to their bound, a round within the wait does
    /// not try, and a server closing its service (421 greeting) is an outage too.
    func testTheMailerWaitsLongerEachTimeTheServerIsStillUnreachable() throws {
        let s = try NoticeTestMailbox()
        let out = smtpOutFolder()
        let port = try BackendAPINoticeTests.startSink(out, arguments: ["--greeting", "421"], for: self)
        let mailer = NoticeMailer(context: s.context, settings: NoticeTestMailbox.settings(port: port), notices: s.context.notices,
                                  outageWaits: SMTPOutage(first: 10, longest: 40))
        try mailer.takePosition()
        try s.arrive("m1")
        try mailer.recordArrivals(now: Date())
        var server = mailer.newMailServer()
        var t = Date()
        var waits: [TimeInterval] = []
        for _ in 1...4 {
            try mailer.sendDue(now: t, server: &server)
            let next = try XCTUnwrap(server.outage.nextTry)
            waits.append(next.timeIntervalSince(t).rounded())
            // Within the wait nothing is tried.
            try mailer.sendDue(now: next.addingTimeInterval(-1), server: &server)
            t = next
        }
        XCTAssertEqual(waits, [10, 20, 40, 40])
        XCTAssertEqual(server.outage.tries, 4)
        let notice = try XCTUnwrap(try s.allNotices().first)
        XCTAssertEqual(notice.status, .pending)
        XCTAssertEqual(notice.attempts, 0)
        XCTAssertLessThanOrEqual(try XCTUnwrap(notice.nextAttemptAt), Date(), "its claim given back: due as before")
        let began = s.lines("notice-smtp-unreachable")
        XCTAssertEqual(began.count, 1, s.node.log)
        XCTAssertTrue(began.first?.contains("SMTP 421") ?? false, s.node.log)
        XCTAssertEqual(s.context.metrics.noticeSMTPOutages.load(ordering: .relaxed), 1)
    }

    /// A refusal of this notice (451 or 550 to its recipient) is an answer: the attempt is spent
    /// as always, and no outage is declared.
    func testARefusalOfOneNoticeStillSpendsItsAttempt() throws {
        let s = try NoticeTestMailbox()
        let out = smtpOutFolder()
        let port = try BackendAPINoticeTests.startSink(out, arguments: ["--refuse", "janis@example.lv=451"], for: self)
        let mailer = NoticeMailer(context: s.context, settings: NoticeTestMailbox.settings(port: port), notices: s.context.notices)
        try mailer.takePosition()
        try s.arrive("m1")
        try mailer.recordArrivals(now: Date())
        var server = mailer.newMailServer()
        try mailer.sendDue(now: Date(), server: &server)
        var notice = try XCTUnwrap(try s.allNotices().first)
        XCTAssertEqual(notice.status, .pending)
        XCTAssertEqual(notice.attempts, 1)
        XCTAssertTrue(notice.lastError?.contains("451") ?? false, "\(notice)")
        try mailer.sendDue(now: Date().addingTimeInterval(1), server: &server)
        notice = try XCTUnwrap(try s.allNotices().first)
        XCTAssertEqual(notice.status, .failed, "maxAttempts 2: given up")
        XCTAssertEqual(notice.attempts, 2)
        XCTAssertNil(server.outage.since)
        XCTAssertTrue(s.lines("notice-smtp-unreachable").isEmpty, s.node.log)
        XCTAssertEqual(try s.scrape().value("as4gw_notice_smtp_up"), 1)
        XCTAssertEqual(s.context.metrics.noticeSMTPOutages.load(ordering: .relaxed), 0)
    }

    /// Withdrawal does not depend on sending: with no sender (its password file unreadable) the
    /// round still withdraws a notice whose document was read, then fails as before; with the
    /// server unreachable, a notice behind the one tried is withdrawn too.
    func testANoticeWhoseDocumentNoLongerWaitsIsWithdrawnWithoutASenderOrAServer() throws {
        let s = try NoticeTestMailbox()
        var broken = NoticeTestMailbox.settings(port: GatewayHarness.freePort())
        broken.passwordFile = FileManager.default.temporaryDirectory.appendingPathComponent("missing-\(UUID().uuidString)").path
        let noSender = NoticeMailer(context: s.context, settings: broken, notices: s.context.notices)
        try noSender.takePosition()
        try s.arrive("read")
        try s.arrive("unread")
        try noSender.recordArrivals(now: Date())
        try s.read("read")
        var server = noSender.newMailServer()
        XCTAssertThrowsError(try noSender.sendDue(now: Date(), server: &server), "the round's fault is still the missing sender")
        XCTAssertNil(server.sender)
        var byId = Dictionary(uniqueKeysWithValues: try s.allNotices().map { ($0.messageId, $0) })
        XCTAssertEqual(byId["read"]?.status, .withdrawn)
        XCTAssertEqual(byId["read"]?.lastError, "the document was read before the notice was sent")
        XCTAssertEqual(byId["unread"]?.status, .pending)
        XCTAssertEqual(byId["unread"]?.attempts, 0)
        XCTAssertLessThanOrEqual(try XCTUnwrap(byId["unread"]?.nextAttemptAt), Date(), "not claimed: due for a node that can send")

        // The server unreachable: the first is tried and given back, the one behind it withdrawn.
        try s.arrive("later")
        let down = NoticeMailer(context: s.context, settings: NoticeTestMailbox.settings(port: GatewayHarness.freePort()), notices: s.context.notices)
        try down.recordArrivals(now: Date())
        try s.read("later")
        var downServer = down.newMailServer()
        try down.sendDue(now: Date(), server: &downServer)
        XCTAssertNotNil(downServer.outage.since)
        byId = Dictionary(uniqueKeysWithValues: try s.allNotices().map { ($0.messageId, $0) })
        XCTAssertEqual(byId["unread"]?.status, .pending)
        XCTAssertEqual(byId["unread"]?.attempts, 0)
        XCTAssertEqual(byId["later"]?.status, .withdrawn)
        XCTAssertEqual(s.context.metrics.noticesWithdrawn.load(ordering: .relaxed), 2)
    }

    /// The outage log is one line per outage, and a server that keeps coming and going within
    /// a minute does not add a pair of lines each time: the next line logged counts them.
    func testOutagesCloseTogetherAreLoggedOnce() {
        var outage = SMTPOutage(first: 1, longest: 4, quiet: 60)
        let t = Date()
        XCTAssertNotNil(outage.failed("curl 7", at: t))
        XCTAssertNil(outage.failed("curl 7", at: t + 1), "the same outage")
        XCTAssertNotNil(outage.answered(at: t + 5))
        XCTAssertNil(outage.answered(at: t + 6), "no outage to end")
        XCTAssertNil(outage.failed("curl 7", at: t + 10), "within a minute of the last line")
        XCTAssertNil(outage.answered(at: t + 11), "its beginning was not logged: nor its end")
        let next = outage.failed("curl 28", at: t + 70)
        XCTAssertEqual(next?["repeated"], "1")
        XCTAssertEqual(next?["reason"], "curl 28")
        XCTAssertEqual(outage.answered(at: t + 100)?["duration_s"], "30")
    }
}
