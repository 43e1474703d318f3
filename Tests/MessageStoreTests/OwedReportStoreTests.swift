import Foundation
@testable import MessageStore
import XCTest

/// The outbox of status reports owed to the access points documents came from: an obligation
/// is written in the transaction of its recipient's step or not at all, comes back in the order
/// it was owed with an earlier one holding back the later ones of its recipient, ends once, and
/// keeps its document from the purge until it ends.
class OwedReportStoreTests: StoreTestCase {
    let sender = "DVS@90000048472", company = "_DEFAULT@40003032949", institution = "_DEFAULT@90000048472"
    var mailbox: (any MailboxStore)!
    var retention: (any RetentionStore)!

    override func setUpWithError() throws {
        try super.setUpWithError()
        mailbox = try openMailboxStore()
        retention = switch Self.backend {
        case .sqlite: try SQLiteRetentionStore(dataDirectory: dataDirectory, now: t0)
        case .postgres: try PostgresRetentionStore(url: postgresURL, schema: .migrate, now: t0)
        }
    }

    override func tearDownWithError() throws {
        retention.close()
        mailbox.close()
        try super.tearDownWithError()
    }

    /// A document that came by AS4 from gw-a for the two mailbox recipients.
    func arrive(_ id: String, retainUntil: Date? = nil) throws {
        var d = NewDocument(messageId: id, connection: nil, idempotencyKey: nil, sender: sender, metadata: "{}", originParty: "gw-a",
                            originMessageId: "carrier-\(id)",
                            files: [DocumentFile(name: "f.pdf", mimeType: "application/pdf", file: StoredFile(path: "/p/\(id)", size: 1, sha256: String(repeating: "1", count: 64)))],
                            recipients: [.init(address: company, route: .mailbox, status: .accepted), .init(address: institution, route: .mailbox, status: .accepted)])
        d.retainUntil = retainUntil
        XCTAssertEqual(try mailbox.insertDocument(d, notifications: [], at: t0), .stored)
    }

    /// `address` of `id` moves to `status` at `at`, owing the origin its report (due `due` seconds after `t0`).
    @discardableResult
    func step(_ id: String, _ address: String, _ status: RecipientStatus, at: Date, due: TimeInterval, answer: Bool? = nil) throws -> Bool {
        let decision = answer.map { RecipientDecision(accepted: $0, code: $0 ? nil : "Wrong", reason: $0 ? nil : "not ours", at: at) }
        return try mailbox.updateRecipient(RecipientUpdate(messageId: id, address: address, status: status, decision: decision,
                                                           retrieved: status == .delivered,
                                                           originReport: OriginReportDue(code: decision?.code, reason: decision?.reason,
                                                                                         retrievedAt: status == .delivered ? at : nil, dueAt: t0 + due)),
                                           at: at)
    }

    func statuses(_ reports: [OwedReport]) -> [String] { reports.map { "\($0.messageId) \($0.address) \($0.status.rawValue)" } }

    func testAStepRecordsTheReportItOwesWithItOrNotAtAll() throws {
        try arrive("d1")
        XCTAssertTrue(try step("d1", company, .delivered, at: t0 + 1, due: 11))
        let owed = try mailbox.owedReports(messageId: "d1", address: company)
        XCTAssertEqual(owed.count, 1)
        XCTAssertEqual(owed.first, OwedReport(id: try XCTUnwrap(owed.first?.id), messageId: "d1", address: company, status: .delivered, code: nil,
                                              reason: nil, at: t0 + 1, retrievedAt: t0 + 1, dueAt: t0 + 11))
        XCTAssertFalse(try step("d1", company, .delivered, at: t0 + 2, due: 12), "read already")
        XCTAssertEqual(try mailbox.owedReports(messageId: "d1", address: company).count, 1, "a step not taken owes nothing")

        XCTAssertTrue(try step("d1", company, .recipientRejected, at: t0 + 3, due: 13, answer: false))
        XCTAssertThrowsError(try step("d1", company, .recipientAccepted, at: t0 + 4, due: 14, answer: true), "answered already")
        XCTAssertEqual(try mailbox.owedReports(messageId: "d1", address: company).map(\.status), [.delivered, .recipientRejected])
        XCTAssertEqual(try mailbox.owedReports(messageId: "d1", address: company).last?.code, "Wrong")
        XCTAssertEqual(try mailbox.owedReports(messageId: "d1", address: company).last?.reason, "not ours")

        // An obligation the store cannot record undoes its step: a status no mailbox reports.
        XCTAssertThrowsError(try step("d1", institution, .deliveryDelayed, at: t0 + 5, due: 15))
        XCTAssertEqual(try mailbox.document(messageId: "d1")?.recipients.first { $0.address == institution }?.status, .accepted)
        XCTAssertEqual(try mailbox.events(messageId: "d1").filter { $0.address == institution }.map(\.status), ["Accepted"])
        XCTAssertEqual(try mailbox.owedReports(messageId: "d1", address: institution), [])
        XCTAssertThrowsError(try step("nothing", company, .delivered, at: t0, due: 10), "no such recipient")
    }

    func testReportsComeInTheOrderOwedAndAnEarlierOneHoldsBackTheLaterOnes() throws {
        try arrive("d1")
        try arrive("d2")
        try step("d1", company, .delivered, at: t0, due: 10)
        try step("d1", company, .recipientAccepted, at: t0, due: 20, answer: true)
        try step("d2", institution, .delivered, at: t0, due: 5)
        try step("d1", institution, .failed, at: t0, due: 30)

        XCTAssertEqual(try mailbox.owedReports(dueBy: t0 + 4, limit: 10), [])
        XCTAssertEqual(statuses(try mailbox.owedReports(dueBy: t0 + 5, limit: 10)), ["d2 \(institution) Delivered"])
        XCTAssertEqual(statuses(try mailbox.owedReports(dueBy: t0 + 10, limit: 10)),
                       ["d1 \(company) Delivered", "d1 \(company) RecipientAccepted", "d2 \(institution) Delivered"],
                       "a recipient's reports all once its first is due, in the order owed")
        XCTAssertEqual(statuses(try mailbox.owedReports(dueBy: t0 + 30, limit: 2)), ["d1 \(company) Delivered", "d1 \(company) RecipientAccepted"])

        let first = try XCTUnwrap(try mailbox.owedReports(messageId: "d1", address: company).first)
        try mailbox.reportNotQueued(id: first.id, error: "disk full", retryAt: t0 + 100)
        let failed = try XCTUnwrap(try mailbox.owedReports(messageId: "d1", address: company).first)
        XCTAssertEqual([failed.attempts, failed.lastError, failed.dueAt] as [AnyHashable?], [1, "disk full", t0 + 100])
        XCTAssertEqual(statuses(try mailbox.owedReports(dueBy: t0 + 30, limit: 10)),
                       ["d2 \(institution) Delivered", "d1 \(institution) Failed"], "the answer waits behind the reading it follows")

        XCTAssertTrue(try mailbox.reportQueued(id: first.id))
        XCTAssertFalse(try mailbox.reportQueued(id: first.id), "ended once")
        XCTAssertEqual(statuses(try mailbox.owedReports(dueBy: t0 + 30, limit: 10)),
                       ["d1 \(company) RecipientAccepted", "d2 \(institution) Delivered", "d1 \(institution) Failed"])
        // Owed after the first ended: still after the others of its recipient.
        try step("d2", institution, .recipientAccepted, at: t0, due: 0, answer: true)
        XCTAssertEqual(try mailbox.owedReports(messageId: "d2", address: institution).map(\.status), [.delivered, .recipientAccepted])
    }

    /// A DMS answering on one node while another node serves the document: the answer was built
    /// before that reading was visible to it and names no reading time. Its report carries the
    /// one recorded, as an answer given after a reading it saw does, so that an answer
    /// overtaking the reading's own report still tells the origin when the recipient read.
    func testAnAnswerBuiltBeforeAReadingElsewhereCarriesTheRecordedReadingTime() throws {
        try arrive("d1")
        XCTAssertTrue(try step("d1", company, .delivered, at: t0 + 1, due: 11))
        XCTAssertTrue(try step("d1", company, .recipientAccepted, at: t0 + 2, due: 12, answer: true), "answered without a reading time")
        XCTAssertEqual(try mailbox.owedReports(messageId: "d1", address: company).map(\.retrievedAt), [t0 + 1, t0 + 1])

        // A reading time the step gives stays as given; a recipient never read gets none.
        XCTAssertTrue(try mailbox.updateRecipient(RecipientUpdate(messageId: "d1", address: institution, status: .failed, detail: "gone",
                                                                  originReport: OriginReportDue(code: nil, reason: nil, retrievedAt: nil,
                                                                                                dueAt: t0 + 13)), at: t0 + 3))
        XCTAssertEqual(try mailbox.owedReports(messageId: "d1", address: institution).map(\.retrievedAt), [nil])
        try arrive("d2")
        XCTAssertTrue(try step("d2", company, .delivered, at: t0 + 4, due: 14))
        XCTAssertTrue(try mailbox.updateRecipient(RecipientUpdate(
            messageId: "d2", address: company, status: .recipientRejected, detail: "no",
            decision: RecipientDecision(accepted: false, code: "Wrong", reason: "not ours", at: t0 + 5),
            originReport: OriginReportDue(code: "Wrong", reason: "not ours", retrievedAt: t0 + 3, dueAt: t0 + 15)), at: t0 + 5))
        XCTAssertEqual(try mailbox.owedReports(messageId: "d2", address: company).map(\.retrievedAt), [t0 + 4, t0 + 3])
    }

    /// What /metrics shows: how many are owed, and since when the oldest step waits for its report.
    func testTheBacklogCountsWhatIsOwedAndDatesTheOldestStep() throws {
        XCTAssertEqual(try mailbox.owedReportBacklog().count, 0)
        XCTAssertNil(try mailbox.owedReportBacklog().oldestStep)
        try arrive("d1")
        try step("d1", company, .delivered, at: t0 + 7, due: 10)
        try step("d1", institution, .delivered, at: t0 + 3, due: 10)
        XCTAssertEqual(try mailbox.owedReportBacklog().count, 2)
        XCTAssertEqual(try mailbox.owedReportBacklog().oldestStep, t0 + 3)
        for report in try mailbox.owedReports(messageId: "d1", address: institution) { try mailbox.reportQueued(id: report.id) }
        XCTAssertEqual(try mailbox.owedReportBacklog().count, 1)
        XCTAssertEqual(try mailbox.owedReportBacklog().oldestStep, t0 + 7)
    }

    /// Keeping the document is what keeps the report: it is made from the document.
    func testADocumentOwingAReportIsKeptPastItsRetentionUntilTheReportIsQueued() throws {
        let past = Date(timeIntervalSinceNow: -86_400).rounded
        try arrive("old", retainUntil: past)
        try arrive("older", retainUntil: past - 60)
        try step("old", company, .delivered, at: t0, due: 10)
        XCTAssertEqual(try retention.dueDocuments(now: Date(), limit: 10).map(\.messageId), ["older"], "left out while it owes a report")
        XCTAssertThrowsError(try retention.purgeDocument(messageId: "old", by: "test", now: Date(), carrier: nil)) {
            XCTAssertEqual($0 as? MailboxStoreError, RetentionRules.reportOwed("old"))
        }
        XCTAssertEqual(try mailbox.document(messageId: "old")?.recipients.count, 2, "nothing of it went")
        XCTAssertEqual(try mailbox.owedReports(messageId: "old", address: company).count, 1)

        for report in try mailbox.owedReports(messageId: "old", address: company) { try mailbox.reportQueued(id: report.id) }
        XCTAssertEqual(try retention.dueDocuments(now: Date(), limit: 10).map(\.messageId), ["older", "old"])
        XCTAssertNoThrow(try retention.purgeDocument(messageId: "old", by: "test", now: Date(), carrier: nil))
        XCTAssertNil(try mailbox.document(messageId: "old"))
    }
}
