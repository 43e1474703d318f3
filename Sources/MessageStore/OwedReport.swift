import Foundation

/// A status report owed to the access point a document came from (the outbox,
/// `MailboxStore.owedReports`): a recipient here moved on (read, answered, failed), and the
/// access point that sent the document must hear of it. The obligation is written in the
/// transaction of the recipient's step (`RecipientUpdate.originReport`) and ends when the report
/// is in the outbound queue (`reportQueued`), so that a fault of the message store, a full disk
/// or a crash between the step and the queueing leaves the report to be queued later instead
/// of losing it.
public struct OwedReport: Sendable, Equatable {
    /// Grows with every obligation: a recipient's reports are queued in this order.
    public var id: Int64
    /// The document, and the recipient of it whose step is reported.
    public var messageId: String
    public var address: String
    public var status: RecipientStatus
    public var code: String?
    public var reason: String?
    /// When the step was taken: the report's own time, however late it is queued.
    public var at: Date
    /// When the recipient read the document, if it did.
    public var retrievedAt: Date?
    /// When the mailbox worker takes the report up if nobody has queued it by then.
    public var dueAt: Date
    /// Attempts to queue it that failed, and the last one's error.
    public var attempts: Int
    public var lastError: String?

    public init(id: Int64, messageId: String, address: String, status: RecipientStatus, code: String?, reason: String?, at: Date,
                retrievedAt: Date?, dueAt: Date, attempts: Int = 0, lastError: String? = nil) {
        self.id = id
        self.messageId = messageId
        self.address = address
        self.status = status
        self.code = code
        self.reason = reason
        self.at = at
        self.retrievedAt = retrievedAt
        self.dueAt = dueAt
        self.attempts = attempts
        self.lastError = lastError
    }

    /// The statuses a mailbox reports to a document's origin (the column's CHECK holds the same).
    public static let reportable: [RecipientStatus] = [.delivered, .recipientAccepted, .recipientRejected, .failed]
}

/// What a recipient's step owes the document's origin, given with the step
/// (`RecipientUpdate.originReport`): the report's status is the step's, its time the step's.
public struct OriginReportDue: Sendable, Equatable {
    public var code: String?
    public var reason: String?
    public var retrievedAt: Date?
    /// From when the mailbox worker may take it up: the step's own caller tries at once, and the
    /// worker only needs to act for one that did not get that far.
    public var dueAt: Date

    public init(code: String?, reason: String?, retrievedAt: Date?, dueAt: Date) {
        self.code = code
        self.reason = reason
        self.retrievedAt = retrievedAt
        self.dueAt = dueAt
    }
}

extension OriginReportDue {
    /// The reading time the report carries: the step's own, else the one the recipient's row
    /// holds (read under its lock, or set by this step). An answer is built from what its request
    /// saw; a reading recorded meanwhile by another request (a DMS confirming on one node while
    /// another node serves the document) leaves it naming none. Reports travel apart, and an
    /// answer that overtakes the reading's own report is the origin's only word on when the
    /// recipient read: without the time, the origin would record the answer and never the reading.
    func readingTime(recorded: Date?) -> Date? { retrievedAt ?? recorded }
}
