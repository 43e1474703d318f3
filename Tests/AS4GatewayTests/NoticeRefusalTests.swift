@testable import AS4Gateway
import Foundation
import HTTPClient
import MessageStore
import XCTest

/// A mail server that answers but refuses this gateway (its login, its greeting, the configured
/// sender address, a STARTTLS it wants first) refuses every notice alike: no attempt is spent
/// however long it lasts, the claim is given back, the mailer waits with growing pauses and says
/// so once at error level with the server's reply, `/metrics` shows it, and the notices go out in
/// order once the settings or the server are put right. A refusal of the recipient or of the
/// message is about that notice and still spends its attempt.
final class NoticeRefusalTests: XCTestCase {
    /// Waits far shorter than the real ones, and the refused ones apart from the unreachable ones.
    static let waits = SMTPOutage(first: 1, longest: 8, firstRefused: 4)

    func refusals(_ out: String) -> [Substring] {
        ((try? String(contentsOfFile: out + "/refused.log", encoding: .utf8)) ?? "").split(separator: "\n")
    }

    /// Two notices due; the mailer positioned and their arrivals recorded.
    func twoNotices(_ s: NoticeTestMailbox, _ mailer: NoticeMailer) throws {
        try mailer.takePosition()
        try s.arrive("first")
        try s.arrive("second")
        try mailer.recordArrivals(now: Date())
    }

    /// Both notices still pending with no attempt spent, and due (their claims given back).
    func assertUnspent(_ s: NoticeTestMailbox, _ note: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let notices = try s.allNotices()
        XCTAssertEqual(notices.map(\.status), [.pending, .pending], note, file: file, line: line)
        XCTAssertEqual(notices.map(\.attempts), [0, 0], "no attempt spent: \(note)", file: file, line: line)
        XCTAssertTrue(notices.allSatisfy { ($0.nextAttemptAt ?? .distantFuture) <= Date() }, "claims given back: \(note)", file: file, line: line)
    }

    /// Both notices sent at their first attempt, the older first.
    func assertSentInOrder(_ s: NoticeTestMailbox, _ out: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let notices = try s.allNotices()
        XCTAssertEqual(notices.map(\.status), [.sent, .sent], file: file, line: line)
        XCTAssertEqual(notices.map(\.attempts), [1, 1], file: file, line: line)
        for (n, notice) in notices.enumerated() {
            let mail = try String(contentsOfFile: out + "/\(n + 1).eml", encoding: .utf8)
            XCTAssertTrue(mail.contains("Message-ID: <notice-\(notice.id)@"), "oldest first", file: file, line: line)
        }
    }

    /// A mailer that logs in as `mailer` with `ourPassword` (from a password file the test may
    /// put right) to a sink that takes `serverPassword`; the sink's folder and the file with it.
    func loggedInMailer(_ s: NoticeTestMailbox, serverPassword: String, ourPassword: String,
                        sinkArguments: [String] = []) throws -> (mailer: NoticeMailer, out: String, passwordFile: String) {
        let out = smtpOutFolder()
        let port = try BackendAPINoticeTests.startSink(out, arguments: ["--auth", "mailer:\(serverPassword)"] + sinkArguments, for: self)
        let passwordFile = out + "-password"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: passwordFile) }
        try "\(ourPassword)\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        var settings = NoticeTestMailbox.settings(port: port)
        settings.username = "mailer"
        settings.passwordFile = passwordFile
        return (NoticeMailer(context: s.context, settings: settings, notices: s.context.notices, outageWaits: Self.waits), out, passwordFile)
    }

    /// The login refused (535) round after round, past the notices' whole retry schedule: each
    /// round tries once, spends nothing and waits longer; one error line with the server's reply
    /// and never the password; `/metrics` says refused. The password file put right, the next
    /// try reads it and both notices go out, oldest first.
    func testARefusedLoginSpendsNoAttemptAndTheNoticesGoOutOnceThePasswordIsPutRight() throws {
        let s = try NoticeTestMailbox()
        let (mailer, out, passwordFile) = try loggedInMailer(s, serverPassword: "right-secret", ourPassword: "wrong-secret")
        try twoNotices(s, mailer)
        var server = mailer.newMailServer()

        var t = Date()
        var waits: [TimeInterval] = []
        for round in 1...4 {
            try mailer.sendDue(now: t, server: &server)
            try assertUnspent(s, "round \(round)")
            XCTAssertNil(server.sender, "made again before the next try, from the password file")
            let next = try XCTUnwrap(server.outage.nextTry)
            waits.append(next.timeIntervalSince(t).rounded())
            try mailer.sendDue(now: next.addingTimeInterval(-0.5), server: &server)
            t = next
        }
        XCTAssertEqual(waits, [4, 8, 8, 8], "a refusal waits firstRefused first, doubled, at most longest")
        XCTAssertEqual(refusals(out), ["AUTH 535", "AUTH 535", "AUTH 535", "AUTH 535"], "one login per try, the first notice's only")
        XCTAssertEqual(server.outage.kind, .refused)

        let refused = s.lines("notice-smtp-refused")
        XCTAssertEqual(refused.count, 1, s.node.log)
        let line = String(refused.first ?? "")
        XCTAssertTrue(line.contains("level=error") && line.contains("reply=535") && line.contains("refused by the test server"), line)
        XCTAssertTrue(line.contains("passwordFile"), "says what to fix: \(line)")
        XCTAssertFalse(s.node.log.contains("wrong-secret") || s.node.log.contains("right-secret"), "never the password")
        XCTAssertTrue(s.lines("notice-smtp-unreachable").isEmpty && s.lines("notice-retry").isEmpty && s.lines("notice-failed").isEmpty, s.node.log)
        var metrics = try s.scrape()
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_up"), 0)
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_refused"), 1)
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_outages_total", ["reason": "refused"]), 1)
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_outages_total", ["reason": "unreachable"]), 0)
        XCTAssertEqual(metrics.value("as4gw_notices_total", ["result": "retried"]), 0)

        try "right-secret\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try mailer.sendDue(now: t, server: &server)
        try assertSentInOrder(s, out)
        XCTAssertNil(server.outage.since)
        let accepted = s.lines("notice-smtp-accepted")
        XCTAssertEqual(accepted.count, 1, s.node.log)
        XCTAssertTrue(accepted.first?.contains("level=info") ?? false, s.node.log)
        metrics = try s.scrape()
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_up"), 1)
        XCTAssertEqual(metrics.value("as4gw_notice_smtp_refused"), 0)
        XCTAssertEqual(metrics.value("as4gw_notices_total", ["result": "sent"]), 2)
    }

    /// The server's other refusals of this gateway: a 554 greeting, the envelope sender refused
    /// (553), MAIL FROM answered 530 by a server that wants STARTTLS first, and a server that
    /// wants a login the settings do not give (530 to MAIL FROM). Each spends no attempt; the
    /// server put right (started again on its port without the fault), the notices go out in order.
    func testA554GreetingOrARefusedSenderSpendsNoAttemptUntilTheServerIsPutRight() throws {
        for (fault, reply) in [(["--greeting", "554"], "554"), (["--mail-reply", "553"], "553"), (["--mail-reply", "530"], "530"),
                               (["--auth", "mailer:secret"], "530")] {
            let s = try NoticeTestMailbox()
            let out = smtpOutFolder()
            let (port, faulty) = try BackendAPINoticeTests.launchSink(out, arguments: fault, for: self)
            let mailer = NoticeMailer(context: s.context, settings: NoticeTestMailbox.settings(port: port), notices: s.context.notices, outageWaits: Self.waits)
            try twoNotices(s, mailer)
            var server = mailer.newMailServer()
            var t = Date()
            for _ in 1...3 {
                try mailer.sendDue(now: t, server: &server)
                try assertUnspent(s, "\(fault)")
                t = try XCTUnwrap(server.outage.nextTry)
            }
            let refused = s.lines("notice-smtp-refused")
            XCTAssertEqual(refused.count, 1, "\(fault): \(s.node.log)")
            XCTAssertTrue(refused.first?.contains("reply=\(reply)") ?? false, "\(fault): \(s.node.log)")
            XCTAssertEqual(try s.scrape().value("as4gw_notice_smtp_refused"), 1, "\(fault)")

            faulty.terminate()
            faulty.waitUntilExit()
            _ = try BackendAPINoticeTests.startSink(out, arguments: ["--port", String(port)], for: self)
            try mailer.sendDue(now: t, server: &server)
            try assertSentInOrder(s, out)
            XCTAssertEqual(s.lines("notice-smtp-accepted").count, 1, "\(fault): \(s.node.log)")
            XCTAssertEqual(try s.scrape().value("as4gw_notice_smtp_up"), 1, "\(fault)")
        }
    }

    /// The greeting's two lines are the reply the log quotes.
    func testTheRefusedLineQuotesTheServersWholeReply() throws {
        let s = try NoticeTestMailbox()
        let port = try BackendAPINoticeTests.startSink(smtpOutFolder(), arguments: ["--greeting", "554"], for: self)
        let mailer = NoticeMailer(context: s.context, settings: NoticeTestMailbox.settings(port: port), notices: s.context.notices, outageWaits: Self.waits)
        try twoNotices(s, mailer)
        var server = mailer.newMailServer()
        try mailer.sendDue(now: Date(), server: &server)
        XCTAssertTrue(s.lines("notice-smtp-refused").first?.contains("reply_text=\"smtp-sink not available no SMTP service here\"") ?? false, s.node.log)
    }

    /// Refusals about the notice: a 550 to its recipient fails it at once, a 554 to its message
    /// spends one attempt and the round goes on to the next notice; no outage either way. The
    /// notice keeps the server's words.
    func testARefusedRecipientOrMessageStillSpendsTheAttempt() throws {
        let s = try NoticeTestMailbox()
        let (mailer, out, _) = try loggedInMailer(s, serverPassword: "secret", ourPassword: "secret",
                                                  sinkArguments: ["--refuse", "janis@example.lv=550"])
        try mailer.takePosition()
        try s.arrive("m1")
        try mailer.recordArrivals(now: Date())
        var server = mailer.newMailServer()
        try mailer.sendDue(now: Date(), server: &server)
        let notice = try XCTUnwrap(try s.allNotices().first)
        XCTAssertEqual(notice.status, .failed, "a 5xx to the recipient is final")
        XCTAssertEqual(notice.attempts, 1)
        XCTAssertTrue(notice.lastError?.contains("550 refused by the test server") ?? false, "\(notice)")
        XCTAssertNil(server.outage.since)

        let messageOut = smtpOutFolder()
        let messagePort = try BackendAPINoticeTests.startSink(messageOut, arguments: ["--data-reply", "554"], for: self)
        let t = try NoticeTestMailbox()
        let refusing = NoticeMailer(context: t.context, settings: NoticeTestMailbox.settings(port: messagePort), notices: t.context.notices, outageWaits: Self.waits)
        try twoNotices(t, refusing)
        var refusingServer = refusing.newMailServer()
        try refusing.sendDue(now: Date(), server: &refusingServer)
        let notices = try t.allNotices()
        XCTAssertEqual(notices.map(\.status), [.pending, .pending])
        XCTAssertEqual(notices.map(\.attempts), [1, 1], "each notice's own attempt, the round not stopped")
        XCTAssertNil(refusingServer.outage.since)
        XCTAssertEqual(refusals(messageOut), ["DATA 554", "DATA 554"])
        for mailbox in [s, t] {
            XCTAssertTrue(mailbox.lines("notice-smtp-refused").isEmpty, mailbox.node.log)
            let metrics = try mailbox.scrape()
            XCTAssertEqual(metrics.value("as4gw_notice_smtp_up"), 1)
            XCTAssertEqual(metrics.value("as4gw_notice_smtp_outages_total", ["reason": "refused"]), 0)
        }
    }

    /// A 421 to one recipient (a server rate-limiting that recipient's domain) is about that
    /// notice, not an outage of the server: that notice spends an attempt and waits its retry
    /// delay, as for a 451, while the notice behind it, to another domain, goes out in the same
    /// round. A 421 to the message's text likewise. A 421 greeting stays an outage
    /// (NoticeOutageTests).
    func testA421ToOneRecipientOrMessageDefersThatNoticeAndTheOthersGoOut() throws {
        let s = try NoticeTestMailbox()
        let other = "_PRIVATE@03048912345"
        _ = try s.context.addresses.importRecords([AddressRecord(address: other, ownerId: "03048912345", ownerKind: "naturalPerson")],
                                                  replace: false, at: Date())
        try s.context.notices.setContact(NoticeContact(address: other, email: "anna@other.lv", updatedAt: Date(), updatedBy: "person"))
        let out = smtpOutFolder()
        let port = try BackendAPINoticeTests.startSink(out, arguments: ["--refuse", "janis@example.lv=421"], for: self)
        var settings = NoticeTestMailbox.settings(port: port)
        settings.maxAttempts = 3
        settings.retrySeconds = 600
        settings.maxRetrySeconds = 600
        let mailer = NoticeMailer(context: s.context, settings: settings, notices: s.context.notices, outageWaits: Self.waits)
        try mailer.takePosition()
        try s.arrive("limited")
        try s.arrive("elsewhere", for: other)
        try mailer.recordArrivals(now: Date())
        var server = mailer.newMailServer()
        let before = Date()
        try mailer.sendDue(now: Date(), server: &server)
        let notices = try s.allNotices()
        XCTAssertEqual(notices.map(\.status), [.pending, .sent], "\(notices)")
        XCTAssertEqual(notices.map(\.attempts), [1, 1], "the limited notice spends its attempt")
        XCTAssertGreaterThanOrEqual(notices.first?.nextAttemptAt ?? .distantPast, before.addingTimeInterval(600), "and waits its retry delay")
        XCTAssertTrue(notices.first?.lastError?.contains("421 refused by the test server") ?? false, "\(notices)")
        XCTAssertNil(server.outage.since, "no outage")
        XCTAssertEqual(refusals(out), ["RCPT janis@example.lv 421"])
        XCTAssertEqual(s.lines("notice-retry").count, 1, s.node.log)
        XCTAssertTrue(s.lines("notice-smtp-unreachable").isEmpty, s.node.log)
        XCTAssertEqual(try s.scrape().value("as4gw_notice_smtp_up"), 1)

        let messageOut = smtpOutFolder()
        let messagePort = try BackendAPINoticeTests.startSink(messageOut, arguments: ["--data-reply", "421"], for: self)
        let t = try NoticeTestMailbox()
        let limited = NoticeMailer(context: t.context, settings: NoticeTestMailbox.settings(port: messagePort), notices: t.context.notices, outageWaits: Self.waits)
        try twoNotices(t, limited)
        var limitedServer = limited.newMailServer()
        try limited.sendDue(now: Date(), server: &limitedServer)
        XCTAssertEqual(try t.allNotices().map(\.attempts), [1, 1], "each notice's own attempt, the round not stopped")
        XCTAssertNil(limitedServer.outage.since)
        XCTAssertEqual(refusals(messageOut), ["DATA 421", "DATA 421"])
    }

    /// Within one outage each kind is logged once, a change of kind included; the quiet rule
    /// is per kind, so a refusal right after an unreachable outage is still logged.
    func testAChangeOfKindIsLoggedOnceAndTheQuietRuleIsPerKind() {
        var outage = SMTPOutage(first: 1, longest: 8, firstRefused: 4, quiet: 60)
        let t = Date()
        XCTAssertEqual(outage.failed("curl 7", at: t)?["reason"], "curl 7")
        let refused = outage.failed("SMTP 535", kind: .refused, at: t + 1)
        XCTAssertEqual(refused?["after"], "unreachable", "the server came back refusing us")
        XCTAssertEqual(outage.nextTry, t + 1 + 8, "the second try of the outage, a refusal: 4 doubled")
        XCTAssertNil(outage.failed("SMTP 535", kind: .refused, at: t + 9))
        XCTAssertNil(outage.failed("curl 7", at: t + 17), "unreachable again: logged already in this outage")
        XCTAssertEqual(outage.kinds, [.unreachable, .refused])
        XCTAssertEqual(outage.answered(at: t + 20)?["duration_s"], "20")

        var quiet = SMTPOutage(quiet: 60)
        XCTAssertNotNil(quiet.failed("curl 7", at: t))
        XCTAssertNotNil(quiet.answered(at: t + 5))
        XCTAssertNotNil(quiet.failed("SMTP 554", kind: .refused, at: t + 10), "another kind: not quieted")
        XCTAssertNotNil(quiet.answered(at: t + 15))
        XCTAssertNil(quiet.failed("SMTP 554", kind: .refused, at: t + 20), "the same kind within a minute")
        XCTAssertNil(quiet.answered(at: t + 25))
        XCTAssertEqual(quiet.failed("SMTP 554", kind: .refused, at: t + 80)?["repeated"], "1")
    }
}
