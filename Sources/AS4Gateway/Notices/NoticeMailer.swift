import Foundation
import HTTPClient
import MessageStore
import Synchronization

/// E-mails a notice (one thread) when a message reaches the mailbox of a natural person or a
/// company: it follows the notification feed's `newMessage` entries, records one notice each
/// (`noContact` when the owner registered no e-mail address, so that gap is visible too), and
/// sends the pending ones through SMTP with retries. A notice whose recipient the server refuses
/// (5xx) or that is still not taken after `maxAttempts` is `failed`: logged at error level,
/// counted in `/metrics` and listed by `GET /api/v1/notices?status=failed` — never silent. A
/// server that cannot be reached at all, or that refuses this gateway (its login, sender address
/// or lack of TLS), spends no notice's attempt: the mailer waits (`SMTPOutage`), says which in
/// the log, and goes on in order once the server takes notices again. Nodes sharing
/// a store take turns through the store's job lock; each notice is claimed before its attempt,
/// which keeps it from going out twice when a node loses the lock mid-send.
/// It announces what arrives while it runs: a mailer that never ran on the store starts at the
/// newest notification (`takePosition`), and an arrival already read, or whose document was
/// purged, before the mailer came to it is not announced (nothing waits in the mailbox). The same
/// check is made before every attempt: a notice waiting for a retry whose document was read or
/// purged meanwhile is `withdrawn`, not sent.
final class NoticeMailer: Sendable {
    let context: GatewayContext
    let settings: NoticeSettings
    let notices: any NoticeStore
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    /// The store holds the mailer's position (`takePosition` succeeded once in this process).
    private let positioned = Atomic<Bool>(false)
    static let interval = 0.25
    static let batch = 100
    /// Longer than an SMTP attempt may take (connect and total timeouts).
    static let claimSeconds = 300.0
    /// The owner kinds whose arrivals are announced by e-mail; institutions read theirs through their DMS.
    static let announcedKinds: Set<String> = ["naturalPerson", "company"]

    /// The waits while the SMTP server is unreachable or refuses us (`SMTPOutage`); tests shorten them.
    let outageWaits: SMTPOutage

    init(context: GatewayContext, settings: NoticeSettings, notices: any NoticeStore, outageWaits: SMTPOutage = SMTPOutage()) {
        self.context = context
        self.settings = settings
        self.notices = notices
        self.outageWaits = outageWaits
    }

    func newPassState() -> PassState {
        PassState(server: newMailServer(), standAside: JobStandAside(enabled: context.sharesJobs))
    }

    func newMailServer() -> MailServer { MailServer(sender: nil, outage: outageWaits) }

    /// The mailer's side of its SMTP server, kept from one round to the next.
    struct MailServer {
        /// One SMTP handle for the thread's life, so consecutive notices reuse the connection.
        var sender: SMTPSender?
        var outage: SMTPOutage
    }

    /// What the loop keeps from one pass to the next.
    struct PassState {
        var server: MailServer
        /// A lasting fault (an unreadable password file, a store that is gone) would otherwise
        /// be logged every round, four times a second.
        var failures = RepeatedFailureLog()
        var standAside: JobStandAside
    }

    func start() {
        let thread = Thread { [self] in
            var state = newPassState()
            while running.load(ordering: .sequentiallyConsistent) {
                pass(&state)
                Thread.sleep(forTimeInterval: Self.interval)
            }
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.name = "\(context.party)/notices"
        thread.start()
    }

    /// One round of the job, unless another node holds it or this node stands aside
    /// (`JobStandAside`: a node that cannot send, say its password file unreadable, leaves the
    /// notices to a node that can instead of taking the job back every round).
    func pass(_ s: inout PassState, now: Date = Date()) {
        guard s.standAside.mayRun(at: now) else { return }
        do {
            let ran = try context.mailbox.exclusively(job: "notice-mailer") { () throws -> Bool in
                // Without a position the feed would be read from its start: never.
                if !positioned.load(ordering: .sequentiallyConsistent) { try takePosition() }
                try recordArrivals(now: Date())
                try sendDue(now: Date(), server: &s.server)
                return true
            }
            guard ran != nil else { return }
            s.standAside.succeeded()
            if let fields = s.failures.succeeded() { context.log.log(.info, "notice-recovered", fields) }
        } catch {
            if let fields = s.failures.failed("\(error)", key: FailureKey.of(error)) { context.log.log(.error, "notice", fields) }
            if s.standAside.failed(error, at: now) {
                context.log.log(.warning, "notice-mailer-standing-aside", [
                    "reason": "\(s.standAside.limit) rounds in a row failed here; the notices are left to the other nodes for "
                        + "\(Int(s.standAside.pause)) s at a time until a round of this node's works"])
            }
        }
    }

    /// Stops after the current round; false when that round was still running at the deadline.
    func stop(deadline: Date) -> Bool {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, !finished.load(ordering: .sequentiallyConsistent) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        return finished.load(ordering: .sequentiallyConsistent)
    }

    /// Gives the store's mailer a position if it has none: the newest notification. Called
    /// before the API listener and the mailbox worker start, so that no arrival of this run
    /// comes before it, and again by the thread until it has succeeded once.
    func takePosition() throws {
        let (position, started) = try notices.startPosition()
        positioned.store(true, ordering: .sequentiallyConsistent)
        if started {
            context.log.log(.info, "notices-started", ["position": String(position),
                                                       "reason": "first start of e-mail notices on this store: arrivals from now on are announced, none from before"])
        }
    }

    /// One notice per new arrival in a person's or company's mailbox here that still waits there.
    func recordArrivals(now: Date) throws {
        let (upTo, arrivals) = try notices.unnoticedArrivals(limit: Self.batch)
        var new: [NewEmailNotice] = []
        for arrival in arrivals {
            guard let record = try context.addresses.record(for: arrival.address), !record.remote,
                  Self.announcedKinds.contains(record.ownerKind) else { continue }
            // "A message waits" would be untrue of one read already, or purged.
            if let gone = try nothingWaits(messageId: arrival.messageId, address: arrival.address) {
                context.log.log(.debug, "notice-skipped", ["message": arrival.messageId, "address": arrival.address,
                                                           "reason": gone == .purged ? "the document was purged" : "the recipient has read it already"])
                continue
            }
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

    /// Why no message waits for `address` any more, or nil while one does.
    enum Gone { case read, purged }

    /// The one test of "a message waits", when an arrival is recorded and again before every
    /// attempt: the document still exists and this recipient has not read it.
    func nothingWaits(messageId: String, address: String) throws -> Gone? {
        guard let document = try context.mailbox.document(messageId: messageId) else { return .purged }
        return document.recipients.first { $0.address == address }?.retrievedAt != nil ? .read : nil
    }

    /// Sends the due notices, oldest first. A notice whose document no longer waits is withdrawn
    /// whether or not anything can be sent: without a sender (its settings cannot be made into
    /// one, say an unreadable password file) and after the server was found unreachable or
    /// refusing us, the rest of the round only withdraws. A sender that cannot be made is thrown
    /// after that, as the round's fault.
    func sendDue(now: Date, server: inout MailServer) throws {
        // While an outage's wait runs nothing is tried, withdrawals included: each costs a store
        // read per notice, and four rounds a second of them would serve no one.
        guard server.outage.mayTry(at: now) else { return }
        let due = try notices.dueNotices(now: now, limit: Self.batch)
        guard !due.isEmpty else { return }
        var unusable: (any Error)?
        if server.sender == nil {
            do { server.sender = try SMTPSender(configuration: try settings.smtpConfiguration()) } catch { unusable = error }
        }
        var sending = unusable == nil
        for notice in due {
            guard let email = notice.email else { continue }
            if !sending {
                guard let gone = try nothingWaits(messageId: notice.messageId, address: notice.address),
                      try notices.claimNotice(id: notice.id, until: Date().addingTimeInterval(Self.claimSeconds), now: now) else { continue }
                try withdraw(notice, gone)
                continue
            }
            // Claimed for longer than one attempt can take, so it goes out once even if another
            // node's mailer runs at the same time.
            let claimedUntil = Date().addingTimeInterval(Self.claimSeconds)
            guard try notices.claimNotice(id: notice.id, until: claimedUntil, now: now) else { continue }
            // A retry may come long after the arrival: by then the document may have been read or
            // purged, and "a message waits" would be untrue. Checked after the claim, so the check
            // is as late as it can be and no other node sends meanwhile.
            if let gone = try nothingWaits(messageId: notice.messageId, address: notice.address) {
                try withdraw(notice, gone)
                continue
            }
            guard let smtp = server.sender else { continue }
            let started = Date()
            let message = NoticeEmail(to: email, from: settings.from, address: notice.address, noticeId: notice.id,
                                      domain: context.messageIdDomain, portalURL: settings.portalURL, date: started).rendered()
            let failure: SMTPSendError?
            do throws(SMTPSendError) {
                try smtp.send(message, to: email)
                failure = nil
            } catch {
                failure = error
            }
            if let error = failure, error.serverUnreachable || error.refusesGateway {
                // Nothing was said about this notice: its claim is given back with its place in
                // line, and the rest of the round only withdraws (`SMTPOutage`).
                _ = try notices.releaseNotice(id: notice.id, claimedUntil: claimedUntil, dueAt: notice.nextAttemptAt ?? now)
                serverUnusable(error, kind: error.serverUnreachable ? .unreachable : .refused, server: &server, now: now)
                sending = false
                continue
            }
            serverAnswered(server: &server, now: now)
            try record(notice, failure, started: started)
        }
        if let unusable { throw unusable }
    }

    /// The outcome of an attempt the server answered about this notice.
    private func record(_ notice: EmailNotice, _ failure: SMTPSendError?, started: Date) throws {
        let attempt = notice.attempts + 1
        var fields = ["document_id": notice.messageId, "address": notice.address, "notice": String(notice.id), "attempt": String(attempt)]
        guard let error = failure else {
            _ = try notices.recordAttempt(id: notice.id, .sent, at: Date())
            context.metrics.noticesSent.add(1, ordering: .relaxed)
            fields["elapsed_ms"] = String(Int(Date().timeIntervalSince(started) * 1000))
            context.log.log(.info, "notice-sent", fields)
            return
        }
        // The log keeps to curl's account; the notice (read by the address's own connection and
        // operators) also gets the server's words, which may quote the recipient's e-mail address.
        fields["reason"] = error.description
        if error.permanent || attempt >= settings.maxAttempts {
            _ = try notices.recordAttempt(id: notice.id, .failed(error: error.descriptionWithReply), at: Date())
            context.metrics.noticesFailed.add(1, ordering: .relaxed)
            context.log.log(.error, "notice-failed", fields)
        } else {
            let delay = settings.delay(afterAttempts: attempt)
            _ = try notices.recordAttempt(id: notice.id, .retry(error: error.descriptionWithReply, nextAttemptAt: Date().addingTimeInterval(delay)), at: Date())
            context.metrics.noticeRetries.add(1, ordering: .relaxed)
            fields["retry_in_s"] = String(format: "%.0f", delay)
            context.log.log(.warning, "notice-retry", fields)
        }
    }

    /// No notice could be handed over, for the server's or this gateway's reason (`kind`).
    /// Outage times are the later of the round's `now` and the clock: a round's attempt may take
    /// a connect timeout, and a test may run rounds ahead of the clock.
    private func serverUnusable(_ error: SMTPSendError, kind: SMTPOutage.Kind, server: inout MailServer, now: Date) {
        if !server.outage.kinds.contains(kind) {
            if kind == .unreachable {
                context.metrics.noticeSMTPOutages.add(1, ordering: .relaxed)
            } else {
                context.metrics.noticeSMTPRefusals.add(1, ordering: .relaxed)
            }
        }
        context.metrics.noticeSMTPUnreachable.store(kind == .unreachable, ordering: .relaxed)
        context.metrics.noticeSMTPRefused.store(kind == .refused, ordering: .relaxed)
        if kind == .refused {
            // Made again for the next try, so that a password file put right meanwhile is read.
            server.sender = nil
        }
        guard var fields = server.outage.failed(error.description, kind: kind, at: max(now, Date())) else { return }
        if kind == .refused {
            // What the operator must act on, in the server's words; never the password (curl's
            // account and the server's reply do not hold it).
            fields["reply"] = String(error.replyCode)
            fields["reply_text"] = error.serverReply.isEmpty ? nil : error.serverReply
        }
        context.log.log(.error, kind == .unreachable ? "notice-smtp-unreachable" : "notice-smtp-refused", fields)
    }

    private func serverAnswered(server: inout MailServer, now: Date) {
        guard server.outage.since != nil else { return }
        let kind = server.outage.kind
        context.metrics.noticeSMTPUnreachable.store(false, ordering: .relaxed)
        context.metrics.noticeSMTPRefused.store(false, ordering: .relaxed)
        if let fields = server.outage.answered(at: max(now, Date())) {
            context.log.log(.info, kind == .refused ? "notice-smtp-accepted" : "notice-smtp-reachable", fields)
        }
    }

    /// Ends a claimed notice unsent; a notice no longer pending (another node finished it) is left as it is.
    private func withdraw(_ notice: EmailNotice, _ gone: Gone) throws {
        let reason = gone == .purged ? "the document was purged before the notice was sent"
            : "the document was read before the notice was sent"
        guard try notices.withdrawNotice(id: notice.id, reason: reason, at: Date()) else { return }
        context.metrics.noticesWithdrawn.add(1, ordering: .relaxed)
        context.log.log(.info, "notice-withdrawn", ["document_id": notice.messageId, "address": notice.address,
                                                    "notice": String(notice.id), "reason": reason])
    }
}
