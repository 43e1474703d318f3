import Foundation
import HTTPClient
import MessageStore
import Synchronization

/// E-mails a notice (one thread) when a message reaches the mailbox of a natural person or a
/// company: it follows the notification feed's `newMessage` entries, records one notice each
/// (`noContact` when the owner registered no e-mail address, so that gap is visible too), and
/// sends the pending ones through SMTP with retries. A notice the server refuses (5xx) or that
/// is still not taken after `maxAttempts` is `failed`: logged at error level, counted in
/// `/metrics` and listed by `GET /api/v1/notices?status=failed` — never silent. Nodes sharing
/// a store take turns through the store's job lock.
final class NoticeMailer: Sendable {
    let context: GatewayContext
    let settings: NoticeSettings
    let notices: any NoticeStore
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    static let interval = 0.25
    static let batch = 100
    /// Longer than an SMTP attempt may take (connect and total timeouts).
    static let claimSeconds = 300.0
    /// The owner kinds whose arrivals are announced by e-mail; institutions read theirs through their DMS.
    static let announcedKinds: Set<String> = ["naturalPerson", "company"]

    init(context: GatewayContext, settings: NoticeSettings, notices: any NoticeStore) {
        self.context = context
        self.settings = settings
        self.notices = notices
    }

    func start() {
        let thread = Thread { [self] in
            // One SMTP handle for the thread's life, so consecutive notices reuse the connection.
            var sender: SMTPSender?
            // A lasting fault (an unreadable password file, a store that is gone) would otherwise
            // be logged every round, four times a second.
            var failures = RepeatedFailureLog()
            while running.load(ordering: .sequentiallyConsistent) {
                do {
                    _ = try context.mailbox.exclusively(job: "notice-mailer") {
                        try recordArrivals(now: Date())
                        try sendDue(now: Date(), sender: &sender)
                    }
                    if let fields = failures.succeeded() { context.log.log(.info, "notice-recovered", fields) }
                } catch {
                    if let fields = failures.failed("\(error)", key: FailureKey.of(error)) { context.log.log(.error, "notice", fields) }
                }
                Thread.sleep(forTimeInterval: Self.interval)
            }
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.name = "\(context.party)/notices"
        thread.start()
    }

    func stop(deadline: Date) {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, !finished.load(ordering: .sequentiallyConsistent) {
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// One notice per new arrival in a person's or company's mailbox here.
    func recordArrivals(now: Date) throws {
        let (upTo, arrivals) = try notices.unnoticedArrivals(limit: Self.batch)
        var new: [NewEmailNotice] = []
        for arrival in arrivals {
            guard let record = try context.addresses.record(for: arrival.address), !record.remote,
                  Self.announcedKinds.contains(record.ownerKind) else { continue }
            let email = try notices.contact(address: arrival.address)?.email
            new.append(NewEmailNotice(notificationId: arrival.id, address: arrival.address, messageId: arrival.messageId, email: email))
        }
        try notices.recordNotices(new, upTo: upTo, at: now)
        for n in new where n.email == nil {
            context.metrics.noticesWithoutContact.add(1, ordering: .relaxed)
            context.log.log(.warning, "notice-no-contact", ["document_id": n.messageId, "address": n.address,
                                                            "reason": "no e-mail address registered for \(n.address): no notice sent"])
        }
    }

    func sendDue(now: Date, sender: inout SMTPSender?) throws {
        let due = try notices.dueNotices(now: now, limit: Self.batch)
        guard !due.isEmpty else { return }
        if sender == nil { sender = try SMTPSender(configuration: try settings.smtpConfiguration()) }
        for notice in due {
            guard let email = notice.email, let smtp = sender else { continue }
            // Claimed for longer than one attempt can take, so it goes out once even if another
            // node's mailer runs at the same time.
            guard try notices.claimNotice(id: notice.id, until: Date().addingTimeInterval(Self.claimSeconds), now: now) else { continue }
            let started = Date()
            let message = NoticeEmail(to: email, from: settings.from, address: notice.address, noticeId: notice.id,
                                      domain: context.messageIdDomain, portalURL: settings.portalURL, date: started).rendered()
            let attempt = notice.attempts + 1
            var fields = ["document_id": notice.messageId, "address": notice.address, "notice": String(notice.id), "attempt": String(attempt)]
            let failure: SMTPSendError?
            do throws(SMTPSendError) {
                try smtp.send(message, to: email)
                failure = nil
            } catch {
                failure = error
            }
            if failure == nil {
                _ = try notices.recordAttempt(id: notice.id, .sent, at: Date())
                context.metrics.noticesSent.add(1, ordering: .relaxed)
                fields["elapsed_ms"] = String(Int(Date().timeIntervalSince(started) * 1000))
                context.log.log(.info, "notice-sent", fields)
            } else if let error = failure {
                fields["reason"] = error.description
                if error.permanent || attempt >= settings.maxAttempts {
                    _ = try notices.recordAttempt(id: notice.id, .failed(error: error.description), at: Date())
                    context.metrics.noticesFailed.add(1, ordering: .relaxed)
                    context.log.log(.error, "notice-failed", fields)
                } else {
                    let delay = settings.delay(afterAttempts: attempt)
                    _ = try notices.recordAttempt(id: notice.id, .retry(error: error.description, nextAttemptAt: Date().addingTimeInterval(delay)), at: Date())
                    context.metrics.noticeRetries.add(1, ordering: .relaxed)
                    fields["retry_in_s"] = String(format: "%.0f", delay)
                    context.log.log(.warning, "notice-retry", fields)
                }
                if error.refusedBeforeRecipient {
                    // Login, MAIL FROM or the message itself refused: the same for every notice,
                    // so the rest wait for the next round instead of spending their attempts.
                    context.log.log(.error, "notice-smtp-refused", ["reason": error.description,
                                                                   "detail": "check the notices settings (login, from) and the mail server"])
                    break
                }
            }
        }
    }
}
