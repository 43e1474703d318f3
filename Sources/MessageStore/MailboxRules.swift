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

    /// A decision is recorded once: a second confirmation of the same recipient is a conflict.
    static func checkUpdate(_ u: RecipientUpdate, decided: String?) throws {
        if u.decision != nil, let decided {
            throw MailboxStoreError.conflict("message \(u.messageId) was already confirmed for \(u.address) (\(decided))")
        }
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
