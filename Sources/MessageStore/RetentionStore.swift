import Foundation

/// Retention of the backend API's documents (docs/RETENTION.md): legal holds, the purge of
/// documents past their `retain_until`, the append-only record of each purge, and the bytes a
/// mailbox holds (what purges give back). Beside `MailboxStore`, in the same database
/// (`StoreLocation.openRetention`): `SQLiteRetentionStore` or `PostgresRetentionStore`.
///
/// The database itself refuses to delete a document, or a row of it (files, recipients,
/// events), before its `retain_until` or while a legal hold applies (triggers, migration 8 of
/// SQLite, 7 of PostgreSQL), so no code path and no hand-typed SQL can shorten an archive while
/// the database's clock is right. With SQLite that clock is the caller's own system clock, so
/// the purge also checks its clock against the runs recorded before (`checkPurgeClock`).
public protocol RetentionStore: AnyObject, Sendable {
    // MARK: Legal holds

    /// Places a hold; throws `MailboxStoreError.notFound` for a message id no document has.
    func placeHold(_ target: LegalHoldTarget, reason: String, by: String, at: Date) throws -> LegalHold
    /// Ends a hold. Throws `notFound` for no such hold and `conflict` when it was released already.
    func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold
    func hold(id: Int64) throws -> LegalHold?
    /// Holds by id, oldest first; with `activeOnly`, those not released.
    func holds(activeOnly: Bool) throws -> [LegalHold]

    // MARK: Purge

    /// Documents whose `retain_until` is at or before `now`, earliest first, with whether a legal
    /// hold keeps them. Left out: a document with a remote recipient still `Submitted` (its AS4
    /// message is not final and needs the document's files to be queued again), and one with a
    /// status report owed to the access point it came from (`OwedReport`: the report is made
    /// from the document, and the origin's proof of the recipient's step must not go with it).
    /// `after`: the last one of the previous page (keyset paging, so documents a hold keeps or
    /// whose purge fails do not come back in every page and hide those behind them).
    func dueDocuments(now: Date, after: DueDocument?, limit: Int) throws -> [DueDocument]
    /// Removes one document (events, files, recipients, the document) and records the purge, in
    /// one transaction; the caller removes `filePaths` afterwards. With `carrier`, the payloads
    /// of the AS4 messages that carried the document (the inbound one it arrived in and the
    /// outbound ones sent for its recipients, of that service and action) are erased too, when final: inbound ones handed over, outbound
    /// ones Delivered; their rows, events and receipts stay as evidence. Throws `notFound` for
    /// no such document, `conflict` when it is retained at `now`, held, still being sent, or
    /// owes its origin a status report;
    /// the database's triggers refuse as well when the real clock says it is retained.
    func purgeDocument(messageId: String, by: String, now: Date, carrier: DocumentCarrier?) throws -> PurgeOutcome
    /// The purges of a message id, oldest first (a document id may arrive again after a purge).
    func purges(messageId: String) throws -> [PurgeRecord]
    /// Every purge recorded after id `after`, by id.
    func purges(after: Int64, limit: Int) throws -> [PurgeRecord]
    /// Files purges committed but nobody has confirmed removed yet (`purge_files`), oldest first.
    func unremovedPurgeFiles(limit: Int) throws -> [(purgeId: Int64, path: String)]
    /// The file is gone (removed now, or found missing).
    func purgeFileRemoved(purgeId: Int64, path: String) throws

    /// Judges the clock of a purge run against the runs recorded before (`PurgeClockRule`) and,
    /// with `check.record`, records this run, in one transaction (runs of several nodes or an
    /// operator's command take turns). A deferred run must purge nothing.
    func checkPurgeClock(_ check: PurgeClockCheck) throws -> PurgeClearance
    /// The recorded purge runs, newest first.
    func purgeRuns(limit: Int) throws -> [PurgeRun]

    // MARK: Mailboxes

    /// The sizes of the files of every document held in `address`'s mailbox (purged ones are gone).
    func mailboxBytes(address: String) throws -> Int64
    /// When the document may be purged: nil when it is kept without end (stored before
    /// retention existed), `.none` when there is no such document.
    func retainUntil(messageId: String) throws -> Date??

    func close()
}

/// The AS4 messages that carry documents (the e-address exchange's service and action).
public struct DocumentCarrier: Sendable, Equatable {
    public var service: String
    public var action: String

    public init(service: String, action: String) {
        self.service = service
        self.action = action
    }
}

/// What a legal hold keeps: one document, or every document sent from or to one address.
public enum LegalHoldTarget: Sendable, Equatable {
    case message(String)
    case address(String)
}

public struct LegalHold: Sendable, Equatable {
    public var id: Int64
    public var target: LegalHoldTarget
    public var reason: String
    /// The connection (or operator command) that placed it.
    public var placedBy: String
    public var placedAt: Date
    public var releasedBy: String?
    public var releasedAt: Date?

    public var isActive: Bool { releasedAt == nil }

    public init(id: Int64, target: LegalHoldTarget, reason: String, placedBy: String, placedAt: Date,
                releasedBy: String? = nil, releasedAt: Date? = nil) {
        self.id = id
        self.target = target
        self.reason = reason
        self.placedBy = placedBy
        self.placedAt = placedAt
        self.releasedBy = releasedBy
        self.releasedAt = releasedAt
    }
}

/// A document whose retention has ended.
extension RetentionStore {
    /// The first page.
    public func dueDocuments(now: Date, limit: Int) throws -> [DueDocument] { try dueDocuments(now: now, after: nil, limit: limit) }
}

public struct DueDocument: Sendable, Equatable {
    public var messageId: String
    public var retainUntil: Date
    /// Ids of the active holds that keep it (empty: it may go).
    public var holds: [Int64]
}

/// The append-only record of one purged document: enough to answer for it, nothing of its content.
public struct PurgeRecord: Sendable, Equatable {
    public var id: Int64
    public var messageId: String
    public var sender: String
    public var recipients: [String]
    /// SHA-256 (hex) of each file, in the document's order.
    public var fileDigests: [String]
    public var bytes: Int64
    /// The AS4 messages whose payloads were erased with the document.
    public var as4Messages: [String]
    public var retainUntil: Date
    public var purgedAt: Date
    /// The job or operator that purged it (`mailbox-worker`, `cli`, …).
    public var purgedBy: String
}

public struct PurgeOutcome: Sendable, Equatable {
    public var record: PurgeRecord
    /// Payload files the purged document referred to, for the caller to remove after the commit.
    public var filePaths: [String]
}

/// Checks and texts both retention stores share.
enum RetentionRules {
    static func lines(_ list: [String]) -> String { list.joined(separator: "\n") }
    static func list(_ text: String) -> [String] { text.isEmpty ? [] : text.components(separatedBy: "\n") }

    static func notRetained(_ id: String, retainUntil: Date?, now: Date) -> MailboxStoreError? {
        guard let until = retainUntil else { return .conflict("document \(id) is kept without end (stored before retention applied)") }
        guard until <= now else { return .conflict("document \(id) is retained until \(ISO8601DateFormatter().string(from: until))") }
        return nil
    }

    /// How far a release's time may be from the database's clock: the triggers of SQLite
    /// migration 23 / PostgreSQL migration 22 say the same (300000 ms).
    static let releaseClockTolerance: TimeInterval = 300

    /// Why hold `hold` cannot be released by `by` at `at`, judged as the triggers judge it, so the
    /// caller hears it in words rather than as a trigger's refusal. `databaseNow`: the clock the
    /// triggers read (PostgreSQL's server may differ from this node's).
    static func releaseProblem(_ hold: LegalHold, by: String, at: Date, databaseNow: Date) -> MailboxStoreError? {
        if by.trimmingCharacters(in: .whitespaces).isEmpty {
            return .conflict("legal hold \(hold.id) cannot be released without naming who releases it")
        }
        let time = ISO8601DateFormatter()
        if at < hold.placedAt {
            return .conflict("legal hold \(hold.id) cannot be released at \(time.string(from: at)), before it was placed at \(time.string(from: hold.placedAt))")
        }
        if abs(at.timeIntervalSince(databaseNow)) > releaseClockTolerance {
            return .conflict("legal hold \(hold.id) is released at the present time: \(time.string(from: at)) is more than "
                             + "\(Int(releaseClockTolerance / 60)) minutes from the database's clock (\(time.string(from: databaseNow))); "
                             + "check this node's clock")
        }
        return nil
    }

    static func held(_ id: String, by holds: [Int64]) -> MailboxStoreError {
        .conflict("document \(id) is kept by legal hold \(holds.map(String.init).joined(separator: ", "))")
    }

    static func stillSending(_ id: String) -> MailboxStoreError {
        .conflict("document \(id) has a remote recipient whose AS4 message is not final")
    }

    static func reportOwed(_ id: String) -> MailboxStoreError {
        .conflict("document \(id) has a status report owed to the access point it came from and not queued yet")
    }

    static func checkReason(_ reason: String) throws {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw StoreError.invalidArgument("a legal hold needs a reason")
        }
    }
}

extension StoreRow {
    func legalHold() -> LegalHold {
        let target: LegalHoldTarget = optionalString("message_id").map { .message($0) } ?? .address(string("address"))
        return LegalHold(id: int64("id"), target: target, reason: string("reason"), placedBy: string("placed_by"),
                         placedAt: date("placed_at"), releasedBy: optionalString("released_by"), releasedAt: optionalDate("released_at"))
    }

    func purgeRecord() -> PurgeRecord {
        PurgeRecord(id: int64("id"), messageId: string("message_id"), sender: string("sender"),
                    recipients: RetentionRules.list(string("recipients")), fileDigests: RetentionRules.list(string("file_digests")),
                    bytes: int64("bytes"), as4Messages: RetentionRules.list(string("as4_messages")), retainUntil: date("retain_until"), purgedAt: date("purged_at"), purgedBy: string("purged_by"))
    }
}
