import Foundation

/// The retention migrations (docs/RETENTION.md): SQLite migration 8 and PostgreSQL migration 7,
/// appended to `Schema.migrations` and `PostgresSchema.migrations`. Like every migration, never
/// edited once released.
///
/// `documents.retain_until` (milliseconds since 1970, UTC) is when a document may be purged;
/// NULL keeps it without end (documents stored before this migration). The triggers refuse
/// deleting a document or any row of it while the database's own clock is before that, or
/// while an active legal hold names the document, its sender or one of its recipients; and they
/// refuse moving `retain_until` earlier. Legal holds and purge records are never deleted; a
/// hold changes only by its one release.
enum RetentionSchema {
    /// SQLite: whether the document `id` (an SQL expression) must stay. `julianday('now')` is
    /// the real clock (fixed for one statement).
    private static func sqliteRetained(_ id: String) -> String {
        """
        NOT EXISTS (SELECT 1 FROM documents d WHERE d.message_id = \(id) AND d.retain_until IS NOT NULL
                    AND d.retain_until <= CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))
        OR EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL
                   AND (h.message_id = \(id)
                        OR h.address IN (SELECT sender FROM documents WHERE message_id = \(id))
                        OR h.address IN (SELECT address FROM document_recipients WHERE message_id = \(id))))
        """
    }

    private static func sqliteGuard(_ table: String) -> String {
        """
        CREATE TRIGGER \(table)_retained BEFORE DELETE ON \(table) WHEN \(sqliteRetained("OLD.message_id"))
            BEGIN SELECT RAISE(ABORT, 'document retained: its retention has not ended or a legal hold applies'); END;
        """
    }

    static let sqlite = """
        ALTER TABLE documents ADD COLUMN retain_until INTEGER;
        CREATE INDEX documents_retention ON documents (retain_until) WHERE retain_until IS NOT NULL;
        CREATE TABLE legal_holds (
            id          INTEGER PRIMARY KEY,
            message_id  TEXT    CHECK (message_id <> ''),
            address     TEXT    CHECK (address <> ''),
            reason      TEXT    NOT NULL CHECK (reason <> ''),
            placed_by   TEXT    NOT NULL,
            placed_at   INTEGER NOT NULL,
            released_by TEXT,
            released_at INTEGER,
            CHECK ((message_id IS NULL) <> (address IS NULL)),
            CHECK ((released_by IS NULL) = (released_at IS NULL))
        );
        CREATE INDEX legal_holds_active_message ON legal_holds (message_id) WHERE released_at IS NULL AND message_id IS NOT NULL;
        CREATE INDEX legal_holds_active_address ON legal_holds (address) WHERE released_at IS NULL AND address IS NOT NULL;
        CREATE TRIGGER legal_holds_no_delete BEFORE DELETE ON legal_holds
            BEGIN SELECT RAISE(ABORT, 'legal holds are kept: DELETE refused'); END;
        CREATE TRIGGER legal_holds_release_only BEFORE UPDATE ON legal_holds
            WHEN OLD.released_at IS NOT NULL OR NEW.message_id IS NOT OLD.message_id OR NEW.address IS NOT OLD.address
                 OR NEW.reason IS NOT OLD.reason OR NEW.placed_by IS NOT OLD.placed_by OR NEW.placed_at IS NOT OLD.placed_at
            BEGIN SELECT RAISE(ABORT, 'a legal hold changes only by its release, once'); END;
        CREATE TABLE purges (
            id           INTEGER PRIMARY KEY,
            message_id   TEXT    NOT NULL,
            sender       TEXT    NOT NULL,
            recipients   TEXT    NOT NULL,
            file_digests TEXT    NOT NULL,
            bytes        INTEGER NOT NULL CHECK (bytes >= 0),
            as4_messages TEXT    NOT NULL DEFAULT '',
            retain_until INTEGER NOT NULL,
            purged_at    INTEGER NOT NULL,
            purged_by    TEXT    NOT NULL
        );
        CREATE INDEX purges_by_message ON purges (message_id, id);
        CREATE TRIGGER purges_no_update BEFORE UPDATE ON purges
            BEGIN SELECT RAISE(ABORT, 'purge records are append-only: UPDATE refused'); END;
        CREATE TRIGGER purges_no_delete BEFORE DELETE ON purges
            BEGIN SELECT RAISE(ABORT, 'purge records are append-only: DELETE refused'); END;
        CREATE TRIGGER documents_retention_only_grows BEFORE UPDATE OF retain_until ON documents
            WHEN (OLD.retain_until IS NULL AND NEW.retain_until IS NOT NULL) OR NEW.retain_until < OLD.retain_until
            BEGIN SELECT RAISE(ABORT, 'retain_until only moves later'); END;
        -- Document events stay append-only, except that the purge of their document takes them.
        DROP TRIGGER document_events_no_delete;
        \(sqliteGuard("document_events"))
        \(sqliteGuard("document_files"))
        \(sqliteGuard("document_recipients"))
        \(sqliteGuard("documents"))
        """

    private static func postgresGuard(_ table: String) -> String {
        """
        CREATE TRIGGER \(table)_retained BEFORE DELETE ON \(table)
            FOR EACH ROW EXECUTE FUNCTION documents_refuse_retained_delete();
        CREATE TRIGGER \(table)_no_truncate BEFORE TRUNCATE ON \(table)
            FOR EACH STATEMENT EXECUTE FUNCTION retention_refuse_truncate();
        """
    }

    static let postgres = """
        ALTER TABLE documents ADD COLUMN retain_until BIGINT;
        CREATE INDEX documents_retention ON documents (retain_until) WHERE retain_until IS NOT NULL;
        CREATE TABLE legal_holds (
            id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id  TEXT    CHECK (message_id <> ''),
            address     TEXT    CHECK (address <> ''),
            reason      TEXT    NOT NULL CHECK (reason <> ''),
            placed_by   TEXT    NOT NULL,
            placed_at   BIGINT  NOT NULL,
            released_by TEXT,
            released_at BIGINT,
            CHECK ((message_id IS NULL) <> (address IS NULL)),
            CHECK ((released_by IS NULL) = (released_at IS NULL))
        );
        CREATE INDEX legal_holds_active_message ON legal_holds (message_id) WHERE released_at IS NULL AND message_id IS NOT NULL;
        CREATE INDEX legal_holds_active_address ON legal_holds (address) WHERE released_at IS NULL AND address IS NOT NULL;
        CREATE TABLE purges (
            id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id   TEXT    NOT NULL,
            sender       TEXT    NOT NULL,
            recipients   TEXT    NOT NULL,
            file_digests TEXT    NOT NULL,
            bytes        BIGINT  NOT NULL CHECK (bytes >= 0),
            as4_messages TEXT    NOT NULL DEFAULT '',
            retain_until BIGINT  NOT NULL,
            purged_at    BIGINT  NOT NULL,
            purged_by    TEXT    NOT NULL
        );
        CREATE INDEX purges_by_message ON purges (message_id, id);

        -- Why document `mid` must stay (NULL: it may go), by the server's real clock.
        CREATE FUNCTION document_retention_refusal(mid TEXT) RETURNS TEXT LANGUAGE plpgsql AS $$
            DECLARE until BIGINT;
            BEGIN
                SELECT retain_until INTO until FROM documents WHERE message_id = mid;
                IF until IS NULL OR until > (extract(epoch FROM clock_timestamp()) * 1000)::bigint THEN
                    RETURN 'its retention has not ended';
                END IF;
                IF EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL
                           AND (h.message_id = mid
                                OR h.address IN (SELECT sender FROM documents WHERE message_id = mid)
                                OR h.address IN (SELECT address FROM document_recipients WHERE message_id = mid))) THEN
                    RETURN 'a legal hold applies';
                END IF;
                RETURN NULL;
            END $$;
        CREATE FUNCTION documents_refuse_retained_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE why TEXT;
            BEGIN
                why := document_retention_refusal(OLD.message_id);
                IF why IS NOT NULL THEN
                    RAISE EXCEPTION 'document % retained: %', OLD.message_id, why;
                END IF;
                RETURN OLD;
            END $$;
        CREATE FUNCTION retention_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'TRUNCATE of % refused: documents leave by the retention purge only', TG_TABLE_NAME; END $$;
        CREATE FUNCTION documents_retention_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF (OLD.retain_until IS NULL AND NEW.retain_until IS NOT NULL) OR NEW.retain_until < OLD.retain_until THEN
                    RAISE EXCEPTION 'retain_until only moves later';
                END IF;
                RETURN NEW;
            END $$;
        CREATE TRIGGER documents_retention_only_grows BEFORE UPDATE OF retain_until ON documents
            FOR EACH ROW EXECUTE FUNCTION documents_retention_only_grows();
        CREATE FUNCTION legal_holds_release_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'legal holds are kept: DELETE refused'; END IF;
                IF OLD.released_at IS NOT NULL OR NEW.message_id IS DISTINCT FROM OLD.message_id
                   OR NEW.address IS DISTINCT FROM OLD.address OR NEW.reason IS DISTINCT FROM OLD.reason
                   OR NEW.placed_by IS DISTINCT FROM OLD.placed_by OR NEW.placed_at IS DISTINCT FROM OLD.placed_at THEN
                    RAISE EXCEPTION 'a legal hold changes only by its release, once';
                END IF;
                RETURN NEW;
            END $$;
        CREATE TRIGGER legal_holds_release_only BEFORE UPDATE OR DELETE ON legal_holds
            FOR EACH ROW EXECUTE FUNCTION legal_holds_release_only();
        CREATE TRIGGER legal_holds_no_truncate BEFORE TRUNCATE ON legal_holds
            FOR EACH STATEMENT EXECUTE FUNCTION retention_refuse_truncate();
        CREATE FUNCTION purges_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'purge records are append-only: % refused', TG_OP; END $$;
        CREATE TRIGGER purges_no_change BEFORE UPDATE OR DELETE ON purges
            FOR EACH ROW EXECUTE FUNCTION purges_refuse_change();
        CREATE TRIGGER purges_no_truncate BEFORE TRUNCATE ON purges
            FOR EACH STATEMENT EXECUTE FUNCTION retention_refuse_truncate();
        -- Document events stay append-only, except that the purge of their document takes them.
        DROP TRIGGER document_events_no_update ON document_events;
        CREATE TRIGGER document_events_no_update BEFORE UPDATE ON document_events
            FOR EACH ROW EXECUTE FUNCTION document_events_refuse_change();
        \(postgresGuard("document_events"))
        \(postgresGuard("document_files"))
        \(postgresGuard("document_recipients"))
        \(postgresGuard("documents"))
        """

    // The retention triggers guard DELETE; these keep an UPDATE from doing the same work (moving a
    // held document's files or recipients to another message id, then deleting them as that one,
    // or blanking a receipt). What the mailbox code changes stays changeable: a recipient's
    // status, its deadline, and its receipt, answer and first reading, each once.
    static let documentFixed = ["message_id", "connection", "idempotency_key", "sender", "metadata", "origin_party",
                                        "origin_message_id", "delivery_by", "created_at"]
    private static let recipientFixed = ["id", "message_id", "address", "route", "party", "as4_message_id"]
    private static let setOnce = [["receipt"], ["decision", "decision_code", "decision_reason", "decided_at"], ["retrieved_at"]]

    static let sqliteImmutable: String = {
        func changed(_ columns: [String]) -> String { columns.map { "NEW.\($0) IS NOT OLD.\($0)" }.joined(separator: " OR ") }
        let once = setOnce.map { "(OLD.\($0[0]) IS NOT NULL AND (\(changed($0))))" }.joined(separator: " OR ")
        return """
            CREATE TRIGGER documents_fixed BEFORE UPDATE ON documents WHEN \(changed(documentFixed))
                BEGIN SELECT RAISE(ABORT, 'a document''s identity and content cannot be changed'); END;
            CREATE TRIGGER document_files_fixed BEFORE UPDATE ON document_files
                BEGIN SELECT RAISE(ABORT, 'document files cannot be changed'); END;
            CREATE TRIGGER document_recipients_fixed BEFORE UPDATE ON document_recipients WHEN \(changed(recipientFixed)) OR \(once)
                BEGIN SELECT RAISE(ABORT, 'a recipient''s identity, receipt, answer and reading cannot be changed'); END;
            """
    }()

    static let postgresImmutable: String = {
        func changed(_ columns: [String]) -> String { columns.map { "NEW.\($0) IS DISTINCT FROM OLD.\($0)" }.joined(separator: " OR ") }
        let once = setOnce.map { "(OLD.\($0[0]) IS NOT NULL AND (\(changed($0))))" }.joined(separator: " OR ")
        return """
            CREATE FUNCTION documents_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF \(changed(documentFixed)) THEN
                    RAISE EXCEPTION 'a document''s identity and content cannot be changed';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER documents_fixed BEFORE UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION documents_fixed();
            CREATE FUNCTION document_files_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'document files cannot be changed';
            END $$;
            CREATE TRIGGER document_files_fixed BEFORE UPDATE ON document_files FOR EACH ROW EXECUTE FUNCTION document_files_fixed();
            CREATE FUNCTION document_recipients_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF \(changed(recipientFixed)) OR \(once) THEN
                    RAISE EXCEPTION 'a recipient''s identity, receipt, answer and reading cannot be changed';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER document_recipients_fixed BEFORE UPDATE ON document_recipients
                FOR EACH ROW EXECUTE FUNCTION document_recipients_fixed();
            """
    }()

    /// SQLite's `INSERT OR REPLACE` deletes the row it replaces without firing DELETE triggers
    /// unless a connection turned `recursive_triggers` on, which a plain sqlite3 shell does not:
    /// an insert that meets a row of a document (or a legal hold) already there is refused
    /// before any conflict handling. (PostgreSQL has no REPLACE; its upserts are UPDATEs, which
    /// the migration before guards.)
    static let sqliteNoReplace: String = {
        let keys = [("documents", "message_id = NEW.message_id"),
                    ("document_files", "message_id = NEW.message_id AND position = NEW.position"),
                    ("document_recipients", "(message_id = NEW.message_id AND address = NEW.address) OR id = NEW.id"),
                    ("legal_holds", "id = NEW.id")]
        return keys.map { table, match in
            """
            CREATE TRIGGER \(table)_no_replace BEFORE INSERT ON \(table) WHEN EXISTS (SELECT 1 FROM \(table) WHERE \(match))
                BEGIN SELECT RAISE(ABORT, 'a row of \(table) is never replaced'); END;

            """
        }.joined()
    }()
}
