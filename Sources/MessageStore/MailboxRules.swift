import Foundation

// What `OutboundTransitions` is for the message queue, this is for the mailbox: the decisions,
// the error texts and the event texts both `MailboxStore` backends share, written once so
// SQLite and PostgreSQL keep the same words. Each backend keeps only its SQL and its locking.

/// The backend-independent rules of the mailbox store.
enum MailboxRules {
    static func connectionExists(_ name: String) -> MailboxStoreError {
        .conflict("a connection named \(name) exists")
    }

    static func heldFromAnotherOrigin(_ messageId: String) -> MailboxStoreError {
        .conflict("message id \(messageId) is already held from another origin")
    }

    /// An AS4 message carries a document to one recipient, and the mailbox knows it by its id
    /// (a unique index): an id that names a recipient already is refused like a document id taken.
    static func carrierTaken(_ as4MessageId: String, by documentId: String?) -> MailboxStoreError {
        .conflict("AS4 message id \(as4MessageId) already carries " + (documentId.map { "document \($0)" } ?? "a document") + " here")
    }

    static func uploadNotUsable(_ id: String) -> MailboxStoreError {
        .conflict("upload \(id) is not a completed, unused upload of this connection")
    }

    static func noRecipient(_ u: RecipientUpdate) -> MailboxStoreError {
        .notFound("message \(u.messageId) has no recipient \(u.address)")
    }

    static func uploadNotCompletable(_ id: String) -> MailboxStoreError {
        .conflict("upload \(id) is not fully received, or already complete")
    }

    /// A chunk out of turn: names the chunk the upload expects, or that there is no such upload.
    static func chunkOutOfTurn(uploadId: String, number: Int, upload: Upload?) -> MailboxStoreError {
        .conflict(upload.map { "upload \(uploadId) expects chunk \($0.received + 1), not \(number)" } ?? "no upload \(uploadId)")
    }

    /// Whether `u` fails a recipient already `Failed` (`current`) again: the outcome of an
    /// operator's retry that the sender has not been told of (`RecipientUpdate.operatorRetries`).
    /// `failures` counts the recipient's `Failed` events so far, read only when it matters.
    static func failsAgain(_ u: RecipientUpdate, current: RecipientStatus, failures: () throws -> Int) rethrows -> Bool {
        guard current == .failed, u.status == .failed, u.operatorRetries > 0 else { return false }
        return try failures() <= u.operatorRetries
    }

    /// A decision is recorded once: a second confirmation of the same recipient is a conflict.
    static func checkUpdate(_ u: RecipientUpdate, decided: String?) throws {
        if u.decision != nil, let decided {
            throw MailboxStoreError.conflict("message \(u.messageId) was already confirmed for \(u.address) (\(decided))")
        }
    }

    /// What the document's deadline makes of an update between reading states. The reading time
    /// decides, not the order in which the gateway learnt of things: a report of a reading
    /// before the deadline may arrive after the deadline acted (a remote recipient's access
    /// point reports later), and a reading after it may be taken in before the deadline acted
    /// (the worker was down at the deadline).
    enum DeadlineJudgement: Equatable {
        /// Apply the update; `note` is added to its event and notifications.
        case apply(note: String?)
        /// Record the reading (its time, event and notifications) and keep the status: a
        /// recipient that had not read the document at its deadline stays DeliveryDelayed.
        case keepStatus(note: String)
        /// Change nothing.
        case refuse
    }

    /// - Parameters:
    ///   - read: the recipient's reading time already recorded, if any.
    ///   - readNow: the reading this update records, if it records one.
    static func deadlineJudgement(current: RecipientStatus, next: RecipientStatus, read: Date?, readNow: Date?,
                                  deliveryBy: Date?) -> DeadlineJudgement {
        switch (current, next) {
        case (.deliveryDelayed, .delivered):
            // Read already (late): the first reading is the one that counts.
            guard read == nil, let readAt = readNow else { return .refuse }
            guard let deliveryBy else { return .apply(note: nil) }
            if readAt < deliveryBy {
                return .apply(note: "read at \(time(readAt)), before the deadline \(time(deliveryBy)); the reading became known only "
                                    + "after the deadline had marked it DeliveryDelayed")
            }
            return .keepStatus(note: "read at \(time(readAt)), after the deadline \(time(deliveryBy)); it stays DeliveryDelayed")
        case (.delivered, .deliveryDelayed):
            // Read in time is never "not read by the deadline"; a reading after it is.
            if let read, let deliveryBy, read < deliveryBy { return .refuse }
            return .apply(note: nil)
        default:
            return .apply(note: nil)
        }
    }

    /// Whether the deadline finds a recipient who read the document in time without an answer:
    /// `Delivered`, read before `deliveryBy`, not decided, the deadline not acted on yet.
    static func answerIsDelayed(status: RecipientStatus, decided: String?, read: Date?, deliveryBy: Date?, deadlinePending: Bool) -> Bool {
        guard status == .delivered, decided == nil, deadlinePending, let read, let deliveryBy else { return false }
        return read < deliveryBy
    }

    /// `text` with `note` after it.
    static func noted(_ text: String?, _ note: String?) -> String? {
        guard let note else { return text }
        return [text, note].compactMap { $0 }.joined(separator: "; ")
    }

    /// A time in the store's resolution (milliseconds), RFC 3339 UTC.
    static func time(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// An upload can be completed once, and only when every chunk has arrived.
    static func isCompletable(_ u: Upload?) -> Bool {
        guard let u else { return false }
        return u.completedAt == nil && u.received == u.chunkCount
    }

    /// A document held again from the same origin only adds the recipients not yet present;
    /// from another origin the message id is taken.
    static func recipientsToAdd(_ d: NewDocument, heldFrom held: String?, present: Set<String>) throws -> [NewDocument.Recipient] {
        guard let origin = d.originParty, held == origin else { throw heldFromAnotherOrigin(d.messageId) }
        return d.recipients.filter { !present.contains($0.address) }
    }

    /// Only a backend's own submissions have a delivery deadline; relayed documents do not.
    static func deadline(_ d: NewDocument) -> Date? {
        d.connection == nil ? nil : d.deliveryBy
    }

    /// The detail of the first event of a recipient.
    static func firstEventDetail(_ r: NewDocument.Recipient) -> String {
        r.route == .mailbox ? "held in the recipient's mailbox" : "queued for access point \(r.party ?? "")"
    }

    /// The notifications for a document: those about no one recipient, and those about a
    /// recipient actually added.
    static func notificationsToWrite(_ notifications: [BackendNotification], recipients: [NewDocument.Recipient]) -> [BackendNotification] {
        notifications.filter { n in n.recipient == nil || recipients.contains(where: { $0.address == n.recipient }) }
    }
}
