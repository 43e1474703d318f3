import Foundation

// SQLite and PostgreSQL keep the mailbox in tables of the same columns, so each row is mapped
// to its model here, once, over `StoreRow`; each backend only writes the SELECT.

extension StoreRow {
    /// Maps a `SELECT * FROM api_connections` row.
    func backendConnection() -> BackendConnection {
        BackendConnection(name: string("name"), tokenSHA256: optionalString("token_sha256"),
                          certificateSHA256: optionalString("certificate_sha256"),
                          addresses: MailboxColumns.addresses(string("addresses")),
                          createdAt: date("created_at"), revokedAt: optionalDate("revoked_at"),
                          webhookURL: optionalString("webhook_url"), webhookSecret: optionalString("webhook_secret"),
                          roles: ConnectionRole.roles(column: string("roles")))
    }

    /// Maps the webhook columns of an `api_connections` row.
    func webhookState() -> WebhookState {
        WebhookState(upTo: int64("webhook_upto"), attempts: int("webhook_attempts"), nextAttemptAt: optionalDate("webhook_next_at"),
                     lastError: optionalString("webhook_error"))
    }

    /// Maps a `SELECT * FROM document_events` row.
    func documentEvent() -> DocumentEvent {
        DocumentEvent(id: int64("id"), address: optionalString("address"), at: date("at"), status: string("status"),
                      detail: optionalString("detail"))
    }

    /// Maps a `SELECT * FROM notifications` row.
    func backendNotification() -> BackendNotification {
        BackendNotification(id: int64("id"), address: string("address"), kind: string("kind"), messageId: string("message_id"),
                            recipient: optionalString("recipient"), detail: optionalString("detail"), at: date("at"))
    }

    /// Maps a `SELECT * FROM uploads` row.
    func upload() -> Upload {
        var u = Upload(id: string("id"), connection: string("connection"), name: string("name"), mimeType: string("mime_type"),
                       size: int64("size"), chunkSize: int64("chunk_size"), path: string("path"), createdAt: date("created_at"))
        u.received = int("received")
        u.sha256 = optionalString("sha256")
        u.completedAt = optionalDate("completed_at")
        u.usedBy = optionalString("used_by")
        return u
    }

    /// Maps a `SELECT * FROM documents` row (files and recipients are loaded separately).
    func documentWithoutParts() -> Document {
        Document(messageId: string("message_id"), connection: optionalString("connection"), idempotencyKey: optionalString("idempotency_key"),
                 idempotencyFingerprint: optionalString("idempotency_fingerprint"), sender: string("sender"), metadata: string("metadata"), originParty: optionalString("origin_party"),
                 originMessageId: optionalString("origin_message_id"), deliveryBy: optionalDate("delivery_by"),
                 createdAt: date("created_at"), files: [], recipients: [])
    }

    /// Maps a `SELECT * FROM document_files` row.
    func documentFile() -> DocumentFile {
        DocumentFile(name: string("name"), mimeType: string("mime_type"),
                     file: StoredFile(path: string("path"), size: int64("size"), sha256: string("sha256")))
    }

    /// Maps a `SELECT * FROM document_recipients` row.
    func documentRecipient() -> DocumentRecipient {
        DocumentRecipient(id: int64("id"), address: string("address"), route: RecipientRoute(rawValue: string("route")) ?? .mailbox,
                          status: recipientStatus(), party: optionalString("party"),
                          as4MessageId: optionalString("as4_message_id"), receipt: optionalData("receipt"),
                          decision: optionalString("decision").map { decision in
                              RecipientDecision(accepted: decision == MailboxColumns.accepted, code: optionalString("decision_code"),
                                                reason: optionalString("decision_reason"), at: optionalDate("decided_at") ?? date("updated_at"))
                          },
                          retrievedAt: optionalDate("retrieved_at"), updatedAt: date("updated_at"))
    }

    /// Maps a `SELECT * FROM owed_reports` row (the column's CHECK admits only reportable statuses).
    func owedReport() -> OwedReport {
        OwedReport(id: int64("id"), messageId: string("message_id"), address: string("address"), status: recipientStatus(),
                   code: optionalString("code"), reason: optionalString("reason"), at: date("at"), retrievedAt: optionalDate("retrieved_at"),
                   dueAt: date("due_at"), attempts: int("attempts"), lastError: optionalString("last_error"))
    }

    /// The `status` column of a `document_recipients` row; an unknown text reads as submitted.
    func recipientStatus() -> RecipientStatus {
        RecipientStatus(rawValue: string("status")) ?? .submitted
    }
}

/// How mailbox values are spelled in columns both backends share.
enum MailboxColumns {
    static let accepted = "accept"
    static let rejected = "reject"

    /// The `addresses` column holds a connection's addresses one a line.
    static func addresses(_ column: String) -> [String] {
        column.split(separator: "\n").map(String.init)
    }

    static func addressesColumn(_ addresses: [String]) -> String {
        addresses.joined(separator: "\n")
    }

    /// The `decision` column of a confirmed recipient.
    static func decision(_ d: RecipientDecision) -> String {
        d.accepted ? accepted : rejected
    }
}
