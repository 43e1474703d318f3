import Foundation
import MessageStore
import Synchronization

/// The outbox of status reports to the access points documents came from. A recipient's step
/// (read, answered, failed; a status a hub relays) records what the document's origin is owed
/// in the step's own transaction (`owed`, `RecipientUpdate.originReport`); the step's caller
/// then tries to queue it at once (`queueNow`), and the mailbox worker queues whatever is still
/// owed (`queueDue`): after a store fault, a full disk, or a process that ended in between.
///
/// Both go through one idempotent path (`send`): a report's AS4 id is derived from carrier,
/// document, recipient and status (`OriginStatusReport`), so a report an attempt queued but could
/// not mark done is found queued by the next attempt and not sent twice, and the outbound queue's
/// unique id decides between two attempts at once (a request and the worker, two nodes).
/// A recipient's reports are queued in the order they were owed, and one that cannot be queued
/// holds back those after it: the reading goes before the answer, as it did when the step's
/// caller queued both itself. (The answer also carries the reading time, so an origin that
/// receives the two out of order still records the reading first.)
struct OriginReports {
    let context: GatewayContext

    /// How long the worker leaves a new obligation to the caller of its step, which queues it
    /// right after its commit: the worker is there for the steps whose caller did not get that far.
    static let grace: TimeInterval = 10
    static let batchSize = 200

    /// What the origin of `d` is owed for a recipient's step at `at` (its status is the step's):
    /// nil for a document that did not come by AS4.
    static func owed(_ d: Document, decision: RecipientDecision?, retrievedAt: Date?, at: Date) -> OriginReportDue? {
        guard d.originParty != nil else { return nil }
        return OriginReportDue(code: decision?.code, reason: decision?.reason, retrievedAt: retrievedAt, dueAt: at + grace)
    }

    /// The worker's wait after `attempts` failed attempts: 2 s, doubling, at most 5 minutes (a
    /// report no agreement lets us send waits for the P-Modes to change, a full disk for space).
    static func retryDelay(attempts: Int) -> TimeInterval {
        min(300, pow(2, Double(min(max(attempts, 1), 9))))
    }

    /// Right after the commit of a step of recipient `address` of `d`: queues what it is owed, in
    /// order. A report that cannot be queued is logged and left to the worker, with those after
    /// it; nothing is thrown, since the step stands whatever becomes of its report.
    func queueNow(_ d: Document, recipient address: String) {
        guard d.originParty != nil else { return }
        let owed: [OwedReport]
        do {
            owed = try context.mailbox.owedReports(messageId: d.messageId, address: address)
        } catch {
            // Recorded with the step all the same: the worker reads it when the store answers.
            logFailure(error, ["document_id": d.messageId, "recipient": address, "to": d.originParty])
            return
        }
        for report in owed where attempt(report, of: d, late: false) != nil { return }
    }

    /// The worker: queues the reports owed and due at `now`, each recipient's in order; returns
    /// how many obligations ended. A full disk or a store that cannot answer ends the pass (every
    /// other report would meet it too). Throws when the owed reports cannot be read.
    @discardableResult
    func queueDue(now: Date) throws -> Int {
        var heldBack = Set<String>()
        var documents: [String: Document] = [:]
        var ended = 0
        for report in try context.mailbox.owedReports(dueBy: now, limit: Self.batchSize) {
            let recipient = report.messageId + "\n" + report.address
            guard !heldBack.contains(recipient) else { continue }
            let document: Document
            do {
                // The recipient's row, which the obligation's foreign key names, keeps its document.
                guard let d = try documents[report.messageId] ?? context.mailbox.document(messageId: report.messageId) else { continue }
                document = d
            } catch {
                logFailure(error, fields(report, nil))
                return ended
            }
            documents[report.messageId] = document
            guard let error = attempt(report, of: document, late: true) else {
                ended += 1
                continue
            }
            heldBack.insert(recipient)
            if DiskFull.matches(error) || StoreOutage.matches(error) { return ended }
        }
        return ended
    }

    /// Queues one owed report unless it is queued already, and ends the obligation. Returns why
    /// it could not be queued, if it could not: logged, and counted on the obligation with the
    /// worker's next try.
    private func attempt(_ report: OwedReport, of d: Document, late: Bool) -> Error? {
        let queued: Bool
        do {
            queued = try send(report, of: d)
        } catch {
            logFailure(error, fields(report, d).merging(["attempts": String(report.attempts + 1)]) { $1 })
            // Not recorded when the store cannot take it either: then the obligation keeps its
            // due time, and the worker tries again on its next pass.
            try? context.mailbox.reportNotQueued(id: report.id, error: "\(error)",
                                                 retryAt: Date() + Self.retryDelay(attempts: report.attempts + 1))
            return error
        }
        if !queued {
            // Queued by an attempt that ended before it could say so, or by another one now.
            context.log.log(.info, "status-reported-already", fields(report, d))
        } else if late {
            context.log.log(.warning, "status-report-queued-late", fields(report, d).merging([
                "owed_since": ISO8601DateFormatter().string(from: report.at), "attempts": String(report.attempts),
                "reason": report.lastError]) { $1 })
        }
        // A failure here leaves an obligation whose report is queued: the next attempt finds it so.
        _ = try? context.mailbox.reportQueued(id: report.id)
        return nil
    }

    /// The report as the origin gets it, queued under its derived id. Returns false when a report
    /// with that id is queued already (nothing is queued then).
    func send(_ report: OwedReport, of d: Document) throws -> Bool {
        guard let origin = d.originParty else { return false }
        let status = EAddressMessages.StatusReport(documentId: d.messageId, recipient: report.address, status: report.status.rawValue,
                                                   code: report.code, reason: report.reason, at: report.at, retrievedAt: report.retrievedAt)
        return try DocumentExchange(context: context).sendStatus(toParty: origin, refTo: d.originMessageId, report: status, sender: d.sender)
    }

    private func fields(_ report: OwedReport, _ d: Document?) -> [String: String?] {
        ["document_id": report.messageId, "recipient": report.address, "status": report.status.rawValue, "to": d?.originParty,
         "message_id": d?.originMessageId]
    }

    private func logFailure(_ error: Error, _ fields: [String: String?]) {
        guard let line = context.originReportFailures.failed(error) else { return }
        context.log.log(.error, "status-report-owed", fields.merging(line) { $1 })
    }
}

/// The failures to queue owed status reports, logged as a background loop logs its own
/// (`RepeatedFailureLog`): the first at once, the same kind again once a minute with how many
/// met it meanwhile. Shared by the request threads and the mailbox worker, which meet the same
/// store fault in turn.
final class OriginReportFailureLog: Sendable {
    private let log: Mutex<RepeatedFailureLog>

    init(interval: TimeInterval = 60) {
        log = Mutex(RepeatedFailureLog(interval: interval))
    }

    /// The fields of a line to log for `error`, or nil to stay quiet this time.
    func failed(_ error: Error, at now: Date = Date()) -> [String: String?]? {
        log.withLock { $0.failed("\(error)", key: FailureKey.of(error), at: now) }
    }
}
