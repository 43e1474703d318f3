import Foundation

/// The `withdrawn` notice migration (SQLite 25, PostgreSQL 24): a pending notice whose document
/// was read or purged before an attempt ends unsent with a status of its own.
///
/// Only the status CHECK of `email_notices` changes, and it only widens: every row stays as it is.
enum NoticeWithdrawalSchema {
    static let statuses = "('pending', 'sent', 'failed', 'noContact', 'withdrawn')"

    // SQLite cannot alter a CHECK, so the table is rebuilt: nothing refers to it (no foreign key,
    // trigger or view), so it can be copied, dropped and renamed inside the migration's
    // transaction. The ids are copied as they are, and the AUTOINCREMENT sequence carried over,
    // so no id is handed out twice.
    static let sqlite = """
        CREATE TABLE email_notices_rebuilt (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            notification_id INTEGER NOT NULL UNIQUE,
            address         TEXT    NOT NULL,
            message_id      TEXT    NOT NULL,
            email           TEXT,
            status          TEXT    NOT NULL CHECK (status IN \(statuses)),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            last_error      TEXT,
            created_at      INTEGER NOT NULL,
            finished_at     INTEGER,
            CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
            CHECK ((status = 'noContact') = (email IS NULL))
        );
        INSERT INTO email_notices_rebuilt (id, notification_id, address, message_id, email, status, attempts, next_attempt_at,
                                           last_error, created_at, finished_at)
            SELECT id, notification_id, address, message_id, email, status, attempts, next_attempt_at, last_error, created_at, finished_at
            FROM email_notices;
        CREATE TEMP TABLE email_notices_sequence AS SELECT seq FROM sqlite_sequence WHERE name = 'email_notices';
        DROP TABLE email_notices;
        ALTER TABLE email_notices_rebuilt RENAME TO email_notices;
        DELETE FROM sqlite_sequence WHERE name = 'email_notices';
        INSERT INTO sqlite_sequence (name, seq) SELECT 'email_notices', seq FROM temp.email_notices_sequence;
        DROP TABLE temp.email_notices_sequence;
        CREATE INDEX email_notices_due ON email_notices (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX email_notices_by_address ON email_notices (address, id);
        """

    // PostgreSQL named the column's CHECK itself (`email_notices_status_check`): it is found by
    // what it says (the only CHECK naming 'sent'), and replaced by one with a name.
    static let postgres = """
        DO $$
        DECLARE old_check TEXT;
        BEGIN
            SELECT conname INTO old_check FROM pg_constraint
                WHERE conrelid = 'email_notices'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%''sent''%';
            IF old_check IS NULL THEN
                RAISE EXCEPTION 'email_notices has no status CHECK naming sent to widen';
            END IF;
            EXECUTE format('ALTER TABLE email_notices DROP CONSTRAINT %I', old_check);
        END $$;
        ALTER TABLE email_notices ADD CONSTRAINT email_notices_status CHECK (status IN \(statuses));
        """
}
