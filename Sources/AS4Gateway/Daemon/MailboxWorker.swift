import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MessageStore
import Synchronization

/// Connects the AS4 store to the backend API, following the store's event history (one thread):
/// - a received e-address document or status message is taken in (`DocumentExchange`) and then
///   marked handed over, or, when it cannot be, marked `Failed` with why (`IntakeFailure`); one
///   an operator put back to `Received` (`messages retry-intake`) is taken in again the same way;
///   one whose intake the store refuses for `IntakeStrikes.holdFor` is set aside the same way
///   (`IntakeStrikes`), or, should the store refuse that mark too, passed over as it stands
///   (`IntakePassedOver`: counted, listed, and retried by the operator like a Failed one), while
///   a store outage holds every message, in order, until it passes;
/// - an outbound document message that got its receipt makes that recipient `Accepted` (the
///   receipt kept as proof), one that failed makes it `Failed`; both notify the sender.
/// - a recipient past its document's `deliveryBy` becomes `Failed` when its access point never
///   took the document (the AS4 message is withdrawn: failed if still waiting, no further attempt
///   if one is in flight), `DeliveryDelayed` when it was held but not read by then, and keeps
///   `Delivered` with an `AnswerDelayed` event when it read in time but has not answered; each
///   notifies the sender. A receipt that comes after a recipient failed makes it `Accepted` after all.
/// The position in the history is kept in the store after each batch; taking an event in twice
/// changes nothing (documents and recipient states are keyed), so a crash only repeats work.
/// Status reports owed to the access points documents came from that their step's caller could
/// not queue (`OriginReports`) are queued every `owedReportInterval`, in the order owed.
/// Uploads no message took within a day are removed; documents past their retention are purged
/// every `retention.purgeIntervalSeconds` (`RetentionPurge`); the ids of signed PullRequests
/// whose replay window has passed go on a cadence of their own (`SeenRequestCleanup`).
/// Before the API listener opens, `queueUnsent` queues again the AS4 message of any remote
/// recipient that a crash left between the submission's commit and the queueing; the loop does
/// the same every `unsentInterval` for recipients left so for `unsentAge` (another node of the
/// same store may have died in between, and it may not be restarted).
/// With several nodes on one PostgreSQL store, the loop runs under the store's job lock
/// (`MailboxStore.exclusively`), so one node at a time advances the shared cursor, and a node
/// whose rounds keep failing leaves the job to the others for a while (`JobStandAside`).
final class MailboxWorker: Sendable {
    let context: GatewayContext
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    static let cursorName = "mailbox-worker"
    static let interval = 0.1
    static let batchSize = 200
    static let deadlineInterval = 0.5
    static let owedReportInterval: TimeInterval = 1
    static let unsentInterval: TimeInterval = 60
    /// A submission still sealing a large file must not be raced: only this long unqueued counts.
    static let unsentAge: TimeInterval = 300

    init(context: GatewayContext) {
        self.context = context
    }

    /// What the loop keeps from one pass to the next.
    struct PassState {
        var failures = RepeatedFailureLog()
        var deadlinesChecked = Date.distantPast
        var owedReportsChecked = Date.distantPast
        var purged = Date.distantPast
        var clockWatch = ClockStepWatch()
        var unsentChecked = Date()
        var seenRequests: SeenRequestCleanup
        var standAside: JobStandAside
        var strikes = IntakeStrikes()
    }

    func newPassState() -> PassState {
        PassState(seenRequests: SeenRequestCleanup(store: context.store, keepFor: context.pullReplays.keepFor),
                  standAside: JobStandAside(enabled: context.sharesJobs))
    }

    func start() {
        let thread = Thread { [self] in
            var state = newPassState()
            while running.load(ordering: .sequentiallyConsistent) {
                Thread.sleep(forTimeInterval: pass(&state))
            }
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.name = "\(context.party)/mailbox"
        thread.start()
    }

    /// One pass of the loop: a round of the job, unless another node holds it or this node
    /// stands aside (`JobStandAside`). Returns how long to wait before the next pass.
    func pass(_ s: inout PassState, now: Date = Date()) -> TimeInterval {
        guard s.standAside.mayRun(at: now) else { return Self.interval }
        do {
            // One node at a time follows the history and enforces deadlines.
            guard let worked = try context.mailbox.exclusively(job: Self.cursorName, { () throws -> Int in try round(&s, now: now) }) else {
                // Another node runs the job now, which says nothing about whether it works here:
                // this node's health stays what its own last round made it.
                return Self.interval
            }
            s.standAside.succeeded()
            context.mailboxWorkerHealth.succeeded()
            if let fields = s.failures.succeeded() { context.log.log(.info, "mailbox-worker-recovered", fields) }
            // Straight on only while a full batch says more is waiting: each round ends with a
            // durable cursor write (an fsync), so a busy history is better taken in batches
            // every interval than a few events at a time.
            return worked == Self.batchSize ? 0 : Self.interval
        } catch {
            // Compared by kind, not text: a full disk names a new payload file each round.
            if let fields = s.failures.failed("\(error)", key: FailureKey.of(error)) { context.log.log(.error, "mailbox-worker", fields) }
            context.mailboxWorkerHealth.failed("\(error)")
            // A message the store refuses is refused on every node alike: no reason to leave the
            // job to another, whose rounds would only stretch the time until it is set aside.
            if !IntakeStrikes.counts(error), s.standAside.failed(error, at: now) {
                context.log.log(.warning, "mailbox-worker-standing-aside", [
                    "reason": "\(s.standAside.limit) rounds in a row failed here; the job is left to the other nodes for "
                        + "\(Int(s.standAside.pause)) s at a time until a round of this node's works"])
            }
            return 1
        }
    }

    /// The job's work, under its lock. `now` judges which owed status reports are due.
    private func round(_ s: inout PassState, now: Date) throws -> Int {
        if Date().timeIntervalSince(s.deadlinesChecked) >= Self.deadlineInterval {
            try enforceDeadlines(now: Date())
            try removeAbandonedUploads(now: Date())
            s.deadlinesChecked = Date()
        }
        if Date().timeIntervalSince(s.unsentChecked) >= Self.unsentInterval {
            s.unsentChecked = Date()
            try queueUnsent(olderThan: Self.unsentAge)
        }
        if now.timeIntervalSince(s.owedReportsChecked) >= Self.owedReportInterval {
            s.owedReportsChecked = now
            // Like the purge, this must not hold up taking in documents and their answers.
            do {
                try OriginReports(context: context).queueDue(now: now)
            } catch {
                if let fields = context.originReportFailures.failed(error) { context.log.log(.error, "status-report-owed", fields) }
            }
        }
        if Date().timeIntervalSince(s.purged) >= context.config.retention.purgeIntervalSeconds {
            // A purge that fails is tried again at the next interval; it must not hold up taking
            // in documents and their answers.
            do {
                let now = Date()
                var forward: TimeInterval?
                if let step = s.clockWatch.step(wall: now), abs(step) > ClockStepWatch.tolerance {
                    // Set back purges less, never early: noted, not deferred.
                    context.log.log(.warning, "clock-step", ["reason": "the wall clock moved \(Int(step)) s more than the boot-time clock since the last purge run"])
                    if step > 0 { forward = step }
                }
                var purge = RetentionPurge(store: context.retention, log: context.log, by: Self.cursorName)
                purge.clockBound = context.config.retention.clockJumpBoundSeconds
                _ = try purge.run(now: now, observedStep: forward)
            } catch {
                context.log.log(.error, "retention-purge", ["reason": "\(error)"])
            }
            s.purged = Date()
        }
        // Like the purge, a failed clean-up must not hold up the documents.
        do {
            if case .ran(let removed, _) = try s.seenRequests.runIfDue(now: Date()), removed > 0 {
                context.log.log(.debug, "seen-requests-removed", ["reason": "\(removed) expired"])
            }
        } catch {
            context.log.log(.error, "seen-requests-cleanup", ["reason": "\(error)"])
        }
        return try runOnce(&s.strikes, now: now)
    }

    /// Stops after the current round; false when that round was still running at the deadline.
    func stop(deadline: Date) -> Bool {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, !finished.load(ordering: .sequentiallyConsistent) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        return finished.load(ordering: .sequentiallyConsistent)
    }

    /// One batch of events, with no count of earlier rounds (nothing is set aside); returns how
    /// many there were (at most `batchSize`).
    @discardableResult
    func runOnce() throws -> Int {
        var strikes = IntakeStrikes()
        return try runOnce(&strikes)
    }

    /// One batch of events; returns how many there were (at most `batchSize`). A failed intake
    /// fails the round, before the cursor moves, so that the next round starts again from the
    /// same place and nothing is skipped; `strikes` counts such rounds across the loop and says
    /// when a message the store keeps refusing is set aside instead.
    @discardableResult
    func runOnce(_ strikes: inout IntakeStrikes, now: Date = Date()) throws -> Int {
        let cursor = try context.mailbox.cursor(Self.cursorName)
        let batch = try context.store.events(after: cursor, limit: Self.batchSize)
        guard let last = batch.last else { return 0 }
        for (messageId, event) in batch {
            switch (event.direction, event.status) {
            case (.inbound, .received):
                let retry = event.code == MessageEvent.intakeRetryRequestedCode
                // A message has more than one Received event (its receipt's); once set aside, only
                // an operator's retry has it taken in again.
                if strikes.wasSetAside(row: event.rowId), !retry { continue }
                do {
                    try takeIn(messageId, row: event.rowId, retry: retry ? event : nil)
                } catch {
                    guard strikes.failed(row: event.rowId, event: event.id, with: error, at: now) else { throw error }
                    try setAside(messageId, row: event.rowId, refusal: error, rounds: strikes.rounds, seconds: strikes.lasted(at: now))
                    strikes.setAside(row: event.rowId)
                    continue
                }
                strikes.settled(row: event.rowId)
            case (.outbound, .delivered), (.outbound, .failed): try track(messageId, event: event)
            default: continue
            }
        }
        try context.mailbox.setCursor(Self.cursorName, to: last.event.id)
        strikes.passed()
        return batch.count
    }

    /// `row`: the message's row, which the event names (another party's message may have the
    /// same id). `retry`: the operator's request (`messages retry-intake`) this intake runs for,
    /// if any; such a run is logged in one line with its outcome, so the log says who had it run again.
    private func takeIn(_ id: String, row: Int64, retry: MessageEvent? = nil) throws {
        guard let m = try context.store.findInbound(id: id).first(where: { $0.rowId == row }), m.status == .received,
              m.metadata.service == EAddressMessages.service else { return }
        let exchange = DocumentExchange(context: context)
        let failure: IntakeFailure?
        switch m.metadata.action {
        case EAddressMessages.documentAction: failure = try exchange.takeDocument(m)
        case EAddressMessages.statusAction: failure = try exchange.takeStatus(m)
        default: return
        }
        guard let failure else {
            _ = try settle(id) { try context.store.markHandedOver(rowId: row, at: Date()) }
            if let retry {
                context.log.log(.info, "intake-retried", ["message_id": id, "action": m.metadata.action, "outcome": "taken in",
                                                          "requested": retry.detail])
            }
            return
        }
        // The sender holds our receipt: the message is not handed over as if it were taken in,
        // it ends Failed with why, which `messages list --status Failed` and /metrics show. A
        // refusal the origin was told of is logged by the exchange (`document-refused`); one it
        // was owed but could not be sent is configuration to fix, so an error.
        switch failure.report {
        case .sent: break
        case .notSent:
            context.log.log(.error, "document-intake-unanswered", ["message_id": id, "action": m.metadata.action, "code": failure.code,
                                                                   "reason": failure.reason])
        case .none:
            context.log.log(.error, "document-intake-refused", ["message_id": id, "action": m.metadata.action, "code": failure.code,
                                                                "reason": failure.reason])
        }
        // Counted by the round that marks it, once however often the intake was repeated.
        if try settle(id, { try context.store.markIntakeFailed(rowId: row, error: failure.error, at: Date()) }) {
            context.metrics.intakeFailed(reported: failure.report == .sent)
        }
        if let retry {
            context.log.log(.warning, "intake-retried", ["message_id": id, "action": m.metadata.action, "outcome": "failed again",
                                                         "code": failure.code, "reason": failure.reason, "requested": retry.detail])
        }
    }

    /// Sets aside received message `id`, whose intake the store refused in `rounds` rounds in a
    /// row over `seconds` (`IntakeStrikes`), so that the messages after it are not held behind it for ever: it
    /// ends Failed with the refusal, its origin told as of a refusal (`DocumentExchange.setAside`),
    /// counted as an intake failure and logged as `intake-set-aside`. Nothing is deleted, and
    /// `messages retry-intake` has it taken in again once the cause is fixed. Should the store
    /// refuse to mark it Failed too, it stays Received, passed over: the log line says so, it is
    /// counted (`as4gw_intake_passed_over_total`), and `messages list --passed-over` and
    /// `messages retry-intake` find it by the worker's position (`IntakePassedOver`).
    private func setAside(_ id: String, row: Int64, refusal: any Error, rounds: Int, seconds: Int) throws {
        let reason = "the store refused its intake in \(rounds) rounds in a row over \(seconds) s: \(refusal)"
        let failure: IntakeFailure
        var action: String?
        do {
            guard let m = try context.store.findInbound(id: id).first(where: { $0.rowId == row }) else { return }
            guard m.status == .received else { return }
            action = m.metadata.action
            failure = try DocumentExchange(context: context).setAside(m, code: IntakeFailure.storeRefused, reason: reason)
        } catch let e as StoreError where e.refusesValues && !e.isTransient {
            // The store refuses to read the message, or what its report needs: marked by its row all the same.
            failure = IntakeFailure(code: IntakeFailure.storeRefused, reason: "\(reason); the store refused to read it as well (\(e)), so its origin could not be told",
                                    report: .notSent)
        }
        var fields: [String: String?] = ["message_id": id, "action": action, "code": failure.code, "reason": failure.reason,
                                         "rounds": String(rounds), "status": MessageStatus.failed.rawValue]
        do {
            guard try settle(id, { try context.store.markIntakeFailed(rowId: row, error: failure.error, at: Date()) }) else { return }
            context.metrics.intakeFailed(reported: failure.report == .sent)
        } catch let e as StoreError where e.refusesValues && !e.isTransient {
            context.metrics.intakePassedOver.add(1, ordering: .relaxed)
            fields["status"] = MessageStatus.received.rawValue
            fields["reason"] = failure.reason + "; the store refused to mark it Failed as well (\(e)), so it stays Received, passed over "
                + "(messages list --passed-over; messages retry-intake takes it in again)"
        }
        context.log.log(.error, "intake-set-aside", fields)
    }

    /// Marks received message `id` taken in or not. Another round may have settled it meanwhile:
    /// a node that lost the job lock without knowing finishes its batch while the node that took
    /// the job over starts the same one. Its intake was keyed (documents, recipient steps, the
    /// refusal's status report), so the message is done, not a failure of this round.
    /// Returns whether this round marked it.
    private func settle(_ id: String, _ mark: () throws -> Void) throws -> Bool {
        do {
            try mark()
            return true
        } catch StoreError.illegalTransition(_, let from, _) where from != .received {
            context.log.log(.info, "intake-settled-elsewhere", ["message_id": id, "status": from.rawValue])
            return false
        }
    }

    /// What the outcome of AS4 message `as4Id` (`event` the one met) makes of its recipient.
    private func track(_ as4Id: String, event: MessageEvent) throws {
        guard let (documentId, address) = try context.mailbox.recipient(as4MessageId: as4Id),
              let m = try context.store.findMessage(id: as4Id, direction: .outbound),
              let d = try context.mailbox.document(messageId: documentId) else { return }
        switch m.status {
        case .delivered:
            // A receipt that came after the recipient was made Failed (retries ran out, the
            // deadline passed) proves delivery after all: the store lets it supersede the
            // failure, and the sender is told so in the same words.
            let late = d.recipients.first { $0.address == address }?.status == .failed
            let detail = late ? "delivered after all: the receiving access point's signed receipt came after the recipient was reported Failed"
                              : "the receiving access point's signed receipt is held"
            try context.mailbox.updateRecipient(RecipientUpdate(
                messageId: documentId, address: address, status: .accepted, detail: detail, receipt: m.receipt,
                notifications: DocumentExchange.senderNotifications(d, address: address, status: .accepted, detail: late ? detail : nil)), at: Date())
        case .failed:
            // The message's state is told, not this event's: a later failure (after an operator's
            // retry, or the receiver's late error) is told when its own event is met, once.
            let history = try context.store.events(for: m.rowId)
            if history.contains(where: { $0.id > event.id && $0.status == .failed }) { return }
            let detail = m.outbound?.lastError.map { "\($0.code): \($0.reason)" } ?? "the access point did not take the message"
            let now = Date()
            // Already Failed, the sender was told; an operator's retry since then has an outcome
            // of its own to tell (`RecipientUpdate.operatorRetries`), counted up to this event.
            let again = d.recipients.first { $0.address == address }?.status == .failed
            let retries = history.filter { $0.id < event.id && $0.code == MessageEvent.retryRequestedCode }.count
            // Forwarded by this hub: the access point it came from is owed word of the failure
            // (once: its recipient cannot go from Failed to Failed).
            let owed = again ? nil : OriginReports.owed(d, decision: RecipientDecision(accepted: false, code: m.outbound?.lastError?.code,
                                                                                        reason: detail, at: now), retrievedAt: nil, at: now)
            if try context.mailbox.updateRecipient(RecipientUpdate(
                messageId: documentId, address: address, status: .failed, detail: detail,
                notifications: DocumentExchange.senderNotifications(d, address: address, status: .failed, detail: detail),
                originReport: owed, operatorRetries: retries), at: now), !again {
                OriginReports(context: context).queueNow(d, recipient: address)
            }
        default:
            return
        }
    }

    /// Recipients past their document's deadline; returns how many were changed.
    @discardableResult
    func enforceDeadlines(now: Date) throws -> Int {
        var changed = 0
        for overdue in try context.mailbox.overdueRecipients(now: now, limit: 200) {
            guard let d = try context.mailbox.document(messageId: overdue.messageId),
                  let r = d.recipients.first(where: { $0.address == overdue.address }) else { continue }
            let deadline = ISO8601DateFormatter().string(from: d.deliveryBy ?? now)
            if r.status == .delivered, let read = r.retrievedAt, let due = d.deliveryBy, read < due {
                // Read in time: what is late is the answer, and the sender is told exactly that.
                let detail = "read at \(EvidenceBundle.time(read)), before the deadline \(deadline), but not answered by it"
                let notice = BackendNotification(address: d.sender, kind: RecipientStatus.answerDelayedNotification, messageId: d.messageId,
                                                 recipient: r.address, detail: detail, at: now)
                if try context.mailbox.recordAnswerDelayed(messageId: d.messageId, address: r.address, detail: detail,
                                                           notifications: [notice], at: now) {
                    changed += 1
                    context.log.log(.warning, "document-deadline", ["document_id": d.messageId, "recipient": r.address,
                                                                    "status": RecipientStatus.answerDelayedEvent])
                }
                continue
            }
            let status: RecipientStatus
            let detail: String
            if r.status == .submitted {
                status = .failed
                detail = "not taken by access point \(r.party ?? "?") by the deadline \(deadline)"
                if let as4 = r.as4MessageId {
                    try withdraw(as4, reason: detail, document: d.messageId, recipient: r.address, now: now)
                }
            } else {
                // Held and not read in time; one read after the deadline but before this round
                // (the worker was stopped at the deadline) says when.
                status = .deliveryDelayed
                detail = "not read by the deadline \(deadline)" + (r.retrievedAt.map { "; read later, at \(EvidenceBundle.time($0))" } ?? "")
            }
            if try context.mailbox.updateRecipient(RecipientUpdate(
                messageId: d.messageId, address: r.address, status: status, detail: detail,
                notifications: DocumentExchange.senderNotifications(d, address: r.address, status: status, detail: detail)), at: now) {
                changed += 1
                context.log.log(.warning, "document-deadline", ["document_id": d.messageId, "recipient": r.address, "status": status.rawValue,
                                                                "message_id": r.as4MessageId, "deadline": d.deliveryBy.map { ISO8601DateFormatter().string(from: $0) },
                                                                "reason": detail])
            }
        }
        return changed
    }

    /// Withdraws the AS4 message of a recipient its deadline failed. One still queued fails; one
    /// being sent now is marked so that no further attempt starts, and the attempt in flight
    /// may still bring a receipt, which then makes the recipient Accepted after all (`track`).
    /// The recipient's Failed notice does not wait for that attempt: at the deadline no proof
    /// of delivery is held, which is what the sender needs to learn then (the attempt may run
    /// for the whole request timeout), and a receipt that comes later is reported as the
    /// correction it is. A message not queued yet (a crash between submission and queueing)
    /// has nothing to withdraw: the recipient is no longer Submitted, so it is not queued later.
    private func withdraw(_ as4: String, reason: String, document: String, recipient: String, now: Date) throws {
        let outcome: WithdrawalOutcome
        do {
            outcome = try context.store.withdraw(messageId: as4, error: DeliveryError(code: "deadline", reason: reason), at: now)
        } catch StoreError.notFound {
            return
        }
        switch outcome {
        case .failed:
            context.log.log(.warning, "document-withdrawn", ["document_id": document, "recipient": recipient, "message_id": as4, "status": "Failed",
                                                             "reason": "withdrawn from the queue: \(reason)"])
        case .withdrawnInFlight:
            context.log.log(.warning, "document-withdrawn", ["document_id": document, "recipient": recipient, "message_id": as4,
                                                             "reason": "deadline passed during an attempt: no further attempt; its receipt still counts"])
        case .alreadyFinal:
            break
        }
    }

    /// Queues again what a crash left between a submission's commit and its AS4 message. Runs
    /// before this node's API listener opens (`olderThan` 0) and then periodically for what has
    /// waited `olderThan` seconds; another node may be between those two steps for a submission
    /// of its own, in which case one of the two finds the AS4 id taken and leaves it
    /// (`DocumentExchange.sendDocument`).
    func queueUnsent(olderThan age: TimeInterval = 0, now: Date = Date()) throws {
        let exchange = DocumentExchange(context: context)
        for unsent in try context.mailbox.unsentRemoteRecipients(limit: 10_000)
        where try context.store.findMessage(id: unsent.as4MessageId, direction: .outbound) == nil {
            guard let d = try context.mailbox.document(messageId: unsent.messageId),
                  let r = d.recipients.first(where: { $0.address == unsent.address }),
                  now.timeIntervalSince(r.updatedAt) >= age else { continue }
            // One that can never be queued (no agreement, no usable certificate of the access
            // point) is made Failed and reported; any other failure is logged and left for the
            // next pass: it must not hold up the others, nor the worker.
            do {
                if try exchange.sendDocumentOrFail(d, to: r) {
                    context.log.log(.warning, "document-requeued", ["document_id": d.messageId, "recipient": r.address])
                }
            } catch let e as StoreError {
                throw e
            } catch {
                context.log.log(.error, "document-requeue-failed", ["document_id": d.messageId, "recipient": r.address, "reason": "\(error)"])
            }
        }
    }

    /// Uploads left unsent for `UploadRoutes.abandonAfter`: file first, then the row (a crash
    /// in between leaves a row whose file is gone, removed on the next round).
    func removeAbandonedUploads(now: Date) throws {
        for upload in try context.mailbox.abandonedUploads(createdBefore: now.addingTimeInterval(-UploadRoutes.abandonAfter), limit: 100) {
            unlink(upload.path)
            if try context.mailbox.deleteUpload(id: upload.id) {
                context.log.log(.info, "upload-removed", ["upload": upload.id, "connection": upload.connection, "reason": "not sent within a day"])
            }
        }
    }
}
