import Foundation

/// The inbound `Failed` migration (SQLite 20, PostgreSQL 18): a received message the backend
/// could not take in after its receipt gets a status of its own instead of "handed over".
///
/// Only the status CHECK of `messages` changes, and it only widens: every existing row satisfies
/// the new one, nothing on disk changes.
enum IntakeFailureSchema {
    static let inboundBefore = "(direction = 'in' AND status IN ('Received', 'Delivered', 'Retrieved'))"
    static let inboundAfter = "(direction = 'in' AND status IN ('Received', 'Delivered', 'Retrieved', 'Failed'))"

    // SQLite cannot alter a CHECK. Rebuilding `messages` would copy the whole history and, with
    // foreign keys on (they cannot be switched off inside the migration's transaction), fail on
    // the rows that refer to it; SQLite documents editing the table's stored definition for
    // constraint changes that leave the file's contents valid, which a wider CHECK does. The edit
    // keeps whatever columns later migrations added.
    static let sqlite = """
        PRAGMA writable_schema = ON;
        UPDATE sqlite_schema SET sql = replace(sql, \(quoted(inboundBefore)), \(quoted(inboundAfter)))
            WHERE type = 'table' AND name = 'messages';
        -- RESET turns the edit off again and makes this connection read the schema anew.
        PRAGMA writable_schema = RESET;
        -- The edit must have found its text: a schema that differs is refused, not half-migrated.
        CREATE TEMP TABLE intake_failure_migration (edited INTEGER NOT NULL CHECK (edited = 1));
        INSERT INTO intake_failure_migration
            SELECT instr(sql, \(quoted(inboundAfter))) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'messages';
        DROP TABLE intake_failure_migration;
        -- Other connections re-read the schema when its version changes; the edit does not change
        -- it, a schema statement in the main database does.
        CREATE TABLE intake_failure_schema_version (unused INTEGER);
        DROP TABLE intake_failure_schema_version;
        """

    // PostgreSQL named the CHECK itself (`messages_check`, or with a number when several were
    // unnamed): it is found by what it says, and replaced by one with a name.
    static let postgres = """
        DO $$
        DECLARE old_check TEXT;
        BEGIN
            SELECT conname INTO old_check FROM pg_constraint
                WHERE conrelid = 'messages'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%Retrieved%';
            IF old_check IS NULL THEN
                RAISE EXCEPTION 'messages has no status CHECK naming Retrieved to widen';
            END IF;
            EXECUTE format('ALTER TABLE messages DROP CONSTRAINT %I', old_check);
        END $$;
        ALTER TABLE messages ADD CONSTRAINT messages_status_by_direction
            CHECK ((direction = 'out' AND status IN ('Submitted', 'Sending', 'Delivered', 'Failed'))
                OR \(inboundAfter));
        """

    private static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
