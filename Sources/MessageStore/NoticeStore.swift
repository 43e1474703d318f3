import Foundation

/// Where a person's or company's e-mail notices are kept: the address each mailbox owner wants
/// them at, and one row per notice with its delivery state, so a notice that could not be sent
/// is a status someone can see, never a silent gap.
///
/// `SQLiteNoticeStore` and `PostgresNoticeStore` implement it beside the mailbox store
/// (`StoreLocation.openNotices`); the contract is `MailboxStore`'s (a method that returns has
/// committed, one that throws has changed nothing).
public protocol NoticeStore: AnyObject, Sendable {
    func setContact(_ contact: NoticeContact) throws
    /// Returns false when the address had no contact.
    func removeContact(address: String) throws -> Bool
    func contact(address: String) throws -> NoticeContact?

    /// Gives the mailer its position when it has none (it never ran on this store): the newest
    /// notification, so that notices enabled later do not announce the arrivals from before,
    /// read, answered or purged long ago. A position already there (an earlier run's, another
    /// node's) is kept. Returns the position and whether this call set it.
    func startPosition() throws -> (position: Int64, started: Bool)
    /// `newMessage` notifications above the mailer's position, oldest first, with the id the
    /// position may move to once they are recorded (the last notification read, of any kind).
    func unnoticedArrivals(limit: Int) throws -> (upTo: Int64, arrivals: [BackendNotification])
    /// Records the notices (one per notification; one recorded before is left as it is) and
    /// moves the mailer's position to `upTo`, in one transaction.
    func recordNotices(_ notices: [NewEmailNotice], upTo: Int64, at: Date) throws
    /// Pending notices whose next attempt is due, oldest first.
    func dueNotices(now: Date, limit: Int) throws -> [EmailNotice]
    /// Takes a due notice for one attempt: moves its next attempt to `until`, so another mailer
    /// (a node that lost the job lock without knowing) finds it not due. False: someone else has it.
    func claimNotice(id: Int64, until: Date, now: Date) throws -> Bool
    /// The outcome of one attempt; returns false (nothing changes) unless the notice is pending.
    func recordAttempt(id: Int64, _ outcome: NoticeAttempt, at: Date) throws -> Bool
    /// Ends a pending notice unsent because nothing waits any more (the document was read or
    /// purged before an attempt): `withdrawn`, with `reason` as its last error. Not an attempt,
    /// so `attempts` stays. Returns false (nothing changes) unless the notice is pending.
    func withdrawNotice(id: Int64, reason: String, at: Date) throws -> Bool

    /// Notices of one address (or all, for operators), optionally of one status, by id above `after`.
    func notices(address: String?, status: NoticeStatus?, after: Int64, limit: Int) throws -> [EmailNotice]
    /// How many notices are in each status now.
    func noticeCounts() throws -> [NoticeStatus: Int]
    func close()
}

extension NoticeStore {
    /// Gives back, unused, a claim taken by `claimNotice(until: claimedUntil)`: the notice is due
    /// again at `dueAt` (its old next attempt, so it keeps its place in line) and no attempt is
    /// counted. For an attempt that never reached a mail server. False (nothing changes) when the
    /// notice is no longer pending or was claimed again since (a later claim ends later).
    public func releaseNotice(id: Int64, claimedUntil: Date, dueAt: Date) throws -> Bool {
        try claimNotice(id: id, until: dueAt, now: claimedUntil)
    }
}

/// Where the owner of an address wants its notices.
public struct NoticeContact: Sendable, Equatable {
    public var address: String
    public var email: String
    public var updatedAt: Date
    /// The connection (or operator) that set it.
    public var updatedBy: String

    public init(address: String, email: String, updatedAt: Date, updatedBy: String) {
        self.address = address
        self.email = email
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

public enum NoticeStatus: String, Sendable, CaseIterable {
    /// Waiting for its (next) attempt.
    case pending
    /// The SMTP server took it.
    case sent
    /// Given up: refused for good, or still not taken after the last attempt.
    case failed
    /// The owner registered no e-mail address: no notice could be sent.
    case noContact
    /// Not sent after all: before an attempt the document no longer waited (read or purged).
    case withdrawn
}

public struct NewEmailNotice: Sendable, Equatable {
    public var notificationId: Int64
    public var address: String
    public var messageId: String
    /// nil records a `noContact` notice.
    public var email: String?

    public init(notificationId: Int64, address: String, messageId: String, email: String?) {
        self.notificationId = notificationId
        self.address = address
        self.messageId = messageId
        self.email = email
    }
}

public struct EmailNotice: Sendable, Equatable {
    public var id: Int64
    public var notificationId: Int64
    public var address: String
    public var messageId: String
    public var email: String?
    public var status: NoticeStatus
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastError: String?
    public var createdAt: Date
    /// When it was sent, given up or withdrawn.
    public var finishedAt: Date?
}

public enum NoticeAttempt: Sendable, Equatable {
    case sent
    case retry(error: String, nextAttemptAt: Date)
    case failed(error: String)
}

extension StoreRow {
    func emailNotice() -> EmailNotice {
        EmailNotice(id: int64("id"), notificationId: int64("notification_id"), address: string("address"), messageId: string("message_id"),
                    email: optionalString("email"), status: NoticeStatus(rawValue: string("status")) ?? .failed,
                    attempts: int("attempts"), nextAttemptAt: optionalDate("next_attempt_at"), lastError: optionalString("last_error"),
                    createdAt: date("created_at"), finishedAt: optionalDate("finished_at"))
    }

    func noticeContact() -> NoticeContact {
        NoticeContact(address: string("address"), email: string("email"), updatedAt: date("updated_at"), updatedBy: string("updated_by"))
    }
}

/// The statements both backends share: the columns an attempt sets.
enum NoticeRules {
    static let cursorName = "notice-mailer"

    /// (status, attempts increment, next attempt, last error, finished) for an outcome.
    static func columns(_ outcome: NoticeAttempt, at: Date) -> (status: NoticeStatus, next: Date?, error: String?, finished: Date?) {
        switch outcome {
        case .sent: return (.sent, nil, nil, at)
        case let .retry(error, next): return (.pending, next, error, nil)
        case let .failed(error): return (.failed, nil, error, at)
        }
    }
}
