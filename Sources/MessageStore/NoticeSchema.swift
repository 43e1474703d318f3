import Foundation

/// The e-mail notices migration (SQLite 10, PostgreSQL 9), written once for both: only the
/// integer and identity column types differ.
enum NoticeSchema {
    static let sqlite = sql(integer: "INTEGER", identity: "INTEGER PRIMARY KEY AUTOINCREMENT")
    static let postgres = sql(integer: "BIGINT", identity: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")

    private static func sql(integer: String, identity: String) -> String {
        """
        -- Where each mailbox owner wants its notices, set by its connection or an operator.
        CREATE TABLE notice_contacts (
            address    TEXT    PRIMARY KEY,
            email      TEXT    NOT NULL CHECK (email <> ''),
            updated_at \(integer) NOT NULL,
            updated_by TEXT    NOT NULL
        );
        -- One notice per newMessage notification of a person's or company's mailbox; its
        -- state is what an operator sees (pending, sent, failed, noContact), never a gap.
        CREATE TABLE email_notices (
            id              \(identity),
            notification_id \(integer) NOT NULL UNIQUE,
            address         TEXT    NOT NULL,
            message_id      TEXT    NOT NULL,
            email           TEXT,
            status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'noContact')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at \(integer),
            last_error      TEXT,
            created_at      \(integer) NOT NULL,
            finished_at     \(integer),
            CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
            CHECK ((status = 'noContact') = (email IS NULL))
        );
        CREATE INDEX email_notices_due ON email_notices (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX email_notices_by_address ON email_notices (address, id);
        """
    }
}
