import Foundation

/// The self-service registrations migration (SQLite 9, PostgreSQL 8), written once for both:
/// the column types and the append-only triggers differ.
enum RegistrationSchema {
    static let sqlite = tables(integer: "INTEGER", identity: "INTEGER PRIMARY KEY") + """

        CREATE TRIGGER registration_history_no_update BEFORE UPDATE ON registration_history
            BEGIN SELECT RAISE(ABORT, 'registration history is append-only: UPDATE refused'); END;
        CREATE TRIGGER registration_history_no_delete BEFORE DELETE ON registration_history
            BEGIN SELECT RAISE(ABORT, 'registration history is append-only: DELETE refused'); END;
        """

    static let postgres = tables(integer: "BIGINT", identity: "BIGSERIAL PRIMARY KEY") + """

        CREATE FUNCTION registration_history_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'registration history is append-only: % refused', TG_OP; END $$;
        CREATE TRIGGER registration_history_no_change BEFORE UPDATE OR DELETE ON registration_history
            FOR EACH ROW EXECUTE FUNCTION registration_history_refuse_change();
        CREATE TRIGGER registration_history_no_truncate BEFORE TRUNCATE ON registration_history
            FOR EACH STATEMENT EXECUTE FUNCTION registration_history_refuse_change();
        """

    private static func tables(integer: String, identity: String) -> String {
        """
        -- addresses: canonical e-addresses, one per line.
        CREATE TABLE registrations (
            id                  TEXT    PRIMARY KEY,
            kind                TEXT    NOT NULL CHECK (kind IN ('dms', 'accessPoint')),
            registration_number TEXT    NOT NULL,
            registrant_subject  TEXT    NOT NULL,
            registrant_sha256   TEXT    NOT NULL,
            addresses           TEXT    NOT NULL,
            endpoint            TEXT,
            party_id            TEXT,
            contact             TEXT,
            status              TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
            created_at          \(integer) NOT NULL,
            decided_at          \(integer),
            decided_by          TEXT,
            reason              TEXT,
            CHECK (kind = 'dms' OR (endpoint IS NOT NULL AND party_id IS NOT NULL))
        );
        CREATE INDEX registrations_by_status ON registrations (status, created_at);
        CREATE TABLE registration_certificates (
            registration_id TEXT    NOT NULL REFERENCES registrations (id),
            sha256          TEXT    NOT NULL,
            pem             TEXT    NOT NULL,
            subject         TEXT    NOT NULL,
            not_before      \(integer) NOT NULL,
            not_after       \(integer) NOT NULL,
            added_at        \(integer) NOT NULL,
            overlap_until   \(integer),
            revoked_at      \(integer),
            PRIMARY KEY (registration_id, sha256)
        );
        CREATE INDEX registration_certificates_by_sha256 ON registration_certificates (sha256);
        CREATE TABLE registration_history (
            id              \(identity),
            registration_id TEXT    NOT NULL,
            at              \(integer) NOT NULL,
            actor           TEXT    NOT NULL,
            action          TEXT    NOT NULL,
            detail          TEXT    NOT NULL DEFAULT ''
        );
        CREATE INDEX registration_history_by_registration ON registration_history (registration_id, id);
        """
    }
}
