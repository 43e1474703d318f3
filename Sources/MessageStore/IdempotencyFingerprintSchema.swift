import Foundation

/// The idempotency fingerprint (SQLite 21, PostgreSQL 20): a connection's idempotency key is kept
/// with a fingerprint of what was submitted under it, so that a request repeating the key can be
/// told whether it is the same submission (docs/API.md, "Sending"). A document stored before the
/// migration has none, and its key answers every request naming it as before.
///
/// The column is part of what a document is: the immutability triggers of migration 14 are
/// replaced by ones that also guard it (migration 14 itself stays as it was released).
enum IdempotencyFingerprintSchema {
    static let column = "idempotency_fingerprint"
    private static let fixed = RetentionSchema.documentFixed + [column]

    static let sqlite: String = {
        let changed = fixed.map { "NEW.\($0) IS NOT OLD.\($0)" }.joined(separator: " OR ")
        return """
            ALTER TABLE documents ADD COLUMN \(column) TEXT;
            DROP TRIGGER documents_fixed;
            CREATE TRIGGER documents_fixed BEFORE UPDATE ON documents WHEN \(changed)
                BEGIN SELECT RAISE(ABORT, 'a document''s identity and content cannot be changed'); END;
            """
    }()

    static let postgres: String = {
        let changed = fixed.map { "NEW.\($0) IS DISTINCT FROM OLD.\($0)" }.joined(separator: " OR ")
        return """
            ALTER TABLE documents ADD COLUMN \(column) TEXT;
            CREATE OR REPLACE FUNCTION documents_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF \(changed) THEN
                    RAISE EXCEPTION 'a document''s identity and content cannot be changed';
                END IF;
                RETURN NEW;
            END $$;
            """
    }()
}
