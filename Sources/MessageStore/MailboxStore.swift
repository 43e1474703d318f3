import Foundation

/// The backend API's durable state, beside `MessageStore` (which keeps the AS4 messages that
/// carry documents): backend connections, documents with per-recipient state and history (the
/// recipients served here form the mailboxes), and the notification feed.
///
/// `SQLiteMailboxStore` and `PostgresMailboxStore` implement it (`StoreLocation.openMailbox`
/// picks the one beside the message store); the contract is that of `MessageStore` (synchronous;
/// a method that returns has committed durably, one that throws has changed nothing).
public protocol MailboxStore: AnyObject, Sendable {
    // MARK: Connections

    /// Throws `MailboxStoreError.conflict` when the name is taken.
    func addConnection(_ connection: BackendConnection) throws
    /// Every connection, revoked ones included, by name.
    func connections() throws -> [BackendConnection]
    /// Returns false when no connection has that name (or it was already revoked).
    func revokeConnection(name: String, at: Date) throws -> Bool

    // MARK: Documents

    /// Stores a document, its files, recipients, a `Submitted`/`Accepted` event per recipient and
    /// `notifications`, in one transaction. A connection's idempotency key that was used before
    /// stores nothing and names the first message. A document arriving again from the same origin
    /// adds only recipients not held yet; from another origin it is refused (`conflict`). So is a
    /// recipient whose AS4 message id already carries a recipient here (`as4MessageId` is unique).
    func insertDocument(_ document: NewDocument, notifications: [BackendNotification], at: Date) throws -> DocumentInsertResult
    func document(messageId: String) throws -> Document?
    /// The message a connection's idempotency key was first used for, if it was.
    func documentId(connection: String, idempotencyKey: String) throws -> String?
    func events(messageId: String) throws -> [DocumentEvent]
    /// Moves one recipient forward with an event and the update's notifications. Returns false,
    /// changing nothing, when the recipient is already at or past that state. Throws `notFound`
    /// for no such recipient and `conflict` when a decision was already recorded. Against the
    /// document's `deliveryBy` the reading time decides (`MailboxRules.deadlineJudgement`): a
    /// recipient read before it is never made DeliveryDelayed, and one DeliveryDelayed that
    /// reads after it keeps that status while its reading is recorded (true, the event and the
    /// notifications saying so); one whose reading before it became known late is Delivered.
    /// The update's `originReport`, if any, is recorded as owed (`OwedReport`) with the step,
    /// and only when the step is taken (true). A `Failed` recipient is failed again, once, for
    /// the outcome of each operator's retry of its AS4 message (`RecipientUpdate.operatorRetries`).
    @discardableResult
    func updateRecipient(_ update: RecipientUpdate, at: Date) throws -> Bool
    /// The deadline found recipient `address` of `messageId` having read the document in time
    /// but not answered: an `AnswerDelayed` event with `detail` and `notifications`, the status
    /// kept (`Delivered`), the deadline acted once. Returns false, changing nothing, unless the
    /// recipient is `Delivered`, read before `deliveryBy`, unanswered, and its deadline (at or
    /// before `at`) has not acted yet. Throws `notFound` for no such recipient.
    @discardableResult
    func recordAnswerDelayed(messageId: String, address: String, detail: String, notifications: [BackendNotification], at: Date) throws -> Bool
    /// The document and recipient carried by an outbound AS4 message of ours.
    func recipient(as4MessageId: String) throws -> (messageId: String, address: String)?
    /// Recipients of documents submitted here whose `deliveryBy` is at or before `now` and that are
    /// still Submitted, Accepted or Delivered, earliest deadline first.
    func overdueRecipients(now: Date, limit: Int) throws -> [(messageId: String, address: String, status: RecipientStatus)]
    /// Remote recipients still `Submitted` (waiting for their access point's receipt), oldest first.
    func unsentRemoteRecipients(limit: Int) throws -> [(messageId: String, address: String, as4MessageId: String)]
    /// Mailbox entries of `address` with an id above `cursor`, oldest first.
    func inbox(address: String, after cursor: Int64, limit: Int) throws -> [(entry: Int64, document: Document)]

    // MARK: Status reports owed to origins (the outbox)

    /// Reports owed for recipients whose oldest owed report is due at `now` (`dueAt` at or
    /// before it), each such recipient's owed reports all, in the order they were owed; at most
    /// `limit`. A recipient whose oldest report is not due yet is left out whole, so that no
    /// later report of it (an answer) is queued before an earlier one (its reading).
    func owedReports(dueBy now: Date, limit: Int) throws -> [OwedReport]
    /// The reports still owed for one recipient, in the order they were owed.
    func owedReports(messageId: String, address: String) throws -> [OwedReport]
    /// The report is in the outbound queue: the obligation ends. Returns false when it had ended
    /// already (another caller queued it first).
    @discardableResult
    func reportQueued(id: Int64) throws -> Bool
    /// An attempt to queue the report failed with `error`: counted, and not taken up by the
    /// worker again before `retryAt`.
    func reportNotQueued(id: Int64, error: String, retryAt: Date) throws
    /// How many reports are owed, and the step time of the oldest (nil when none is): what
    /// /metrics shows, since a report no agreement lets out stays owed and keeps its document.
    func owedReportBacklog() throws -> (count: Int, oldestStep: Date?)

    // MARK: Uploads

    func createUpload(_ upload: Upload) throws
    func upload(id: String) throws -> Upload?
    /// Records chunk `number` as written. Throws `conflict` unless it is the next one expected of
    /// an upload not yet complete.
    func recordChunk(uploadId: String, number: Int, at: Date) throws
    /// Marks a fully received upload complete with the file's digest (`conflict` otherwise).
    func completeUpload(id: String, sha256: String, at: Date) throws
    /// Uploads created before `createdBefore` that no message took, oldest first.
    func abandonedUploads(createdBefore: Date, limit: Int) throws -> [Upload]
    /// A connection's uploads no document has taken yet (complete or not), oldest first; with
    /// nil, every connection's (what the disk still has to hold for them).
    func openUploads(connection: String?) throws -> [Upload]
    /// Forgets an upload no message took; returns false (nothing changes) for one that was sent.
    func deleteUpload(id: String) throws -> Bool

    // MARK: Notifications

    /// Notifications for any of `addresses` above the connection's confirmed position, oldest first.
    func notifications(connection: String, addresses: [String], limit: Int) throws -> [BackendNotification]
    /// Confirms everything up to `upTo` for the connection; returns false when `upTo` names no
    /// notification of those addresses (nothing changes).
    func confirmNotifications(connection: String, addresses: [String], upTo: Int64) throws -> Bool

    /// Notifications for any of `addresses` with an id above `after`, oldest first (webhooks).
    func notifications(after: Int64, addresses: [String], limit: Int) throws -> [BackendNotification]
    func webhookState(connection: String) throws -> WebhookState?
    /// The webhook took everything up to `upTo`; the failure count starts again. Recorded only
    /// while `fence` (the webhook job's) still holds: `JobFenceError.lost` otherwise.
    func recordWebhookDelivery(connection: String, upTo: Int64, fence: JobFence) throws
    func recordWebhookFailure(connection: String, error: String, nextAttemptAt: Date, fence: JobFence) throws

    // MARK: Workers

    /// A named position a worker keeps between runs (0 when never set).
    func cursor(_ name: String) throws -> Int64
    func setCursor(_ name: String, to value: Int64) throws
    /// Runs `body` unless job `job` is running already, on this node or on another node sharing
    /// the store; returns nil without running it then. Background jobs that read and advance
    /// shared state (worker cursors, deadlines, webhooks) run in here, one node at a time.
    func exclusively<T>(job: String, _ body: () throws -> T) throws -> T?
    /// `exclusively` for a job with effects outside the store (webhook POSTs): `body` gets the
    /// job's `JobFence`, to check before each effect and to pass where its result is recorded,
    /// since a job lock can be lost (a database restart) while the body runs. A job whose last
    /// holder announced an effect that may still be under way is not started (nil) until then.
    func exclusively<T>(job: String, fenced body: (JobFence) throws -> T) throws -> T?

    func close()
}

public enum MailboxStoreError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case conflict(String)

    public var description: String {
        switch self {
        case .notFound(let s), .conflict(let s): return s
        }
    }
}
