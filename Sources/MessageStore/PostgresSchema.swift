import Foundation

/// The PostgreSQL schema, as the list of migrations that builds it: the same tables, columns and
/// rules as the SQLite `Schema` (dates are BIGINT milliseconds since 1970, receipts BYTEA), so
/// both stores answer the same values. Versions are consecutive from 1; a released migration is
/// never edited: a change is a new migration.
enum PostgresSchema {
    /// `pg_advisory_xact_lock` keys (first argument: this application's namespace).
    static let lockNamespace: Int32 = 0x4153_3447  // "AS4G"
    static let migrationLock: Int32 = 1
    static let eventOrderLock: Int32 = 2

    static let migrations: [Migration] = [
        Migration(version: 1, name: "messages, parts, append-only events", sql: """
            CREATE TABLE messages (
                row_id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id        TEXT    NOT NULL CHECK (message_id <> ''),
                direction         TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
                status            TEXT    NOT NULL,
                conversation_id   TEXT    NOT NULL DEFAULT '',
                ref_to_message_id TEXT,
                from_party        TEXT    NOT NULL,
                to_party          TEXT    NOT NULL,
                service           TEXT    NOT NULL,
                action            TEXT    NOT NULL,
                pmode_id          TEXT,
                mpc               TEXT,
                created_at        BIGINT  NOT NULL,
                updated_at        BIGINT  NOT NULL,
                endpoint          TEXT,
                content_type      TEXT,
                message_path      TEXT,
                sent_references   TEXT,
                attempts          INTEGER NOT NULL DEFAULT 0,
                max_attempts      INTEGER NOT NULL DEFAULT 0,
                next_attempt_at   BIGINT,
                lease_owner       TEXT,
                lease_until       BIGINT,
                last_error_code   TEXT,
                last_error_reason TEXT,
                pull_mpc          TEXT,
                receipt           BYTEA,
                receipt_at        BIGINT,
                stored_path       TEXT,
                retrieved_at      BIGINT,
                CHECK ((direction = 'out' AND status IN ('Submitted', 'Sending', 'Delivered', 'Failed'))
                    OR (direction = 'in' AND status IN ('Received', 'Delivered', 'Retrieved'))),
                CHECK (direction = 'in' OR (content_type IS NOT NULL AND message_path IS NOT NULL
                                            AND max_attempts >= 1 AND (endpoint IS NOT NULL OR pull_mpc IS NOT NULL))),
                CHECK (status <> 'Sending' OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
            );
            CREATE UNIQUE INDEX messages_outbound_id ON messages (message_id) WHERE direction = 'out';
            CREATE INDEX messages_inbound_id ON messages (message_id, created_at) WHERE direction = 'in';
            CREATE INDEX messages_queue ON messages (status, next_attempt_at)
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending');
            CREATE INDEX messages_pull_queue ON messages (pull_mpc, created_at)
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND pull_mpc IS NOT NULL;
            CREATE INDEX messages_leases ON messages (lease_until) WHERE status = 'Sending';
            CREATE INDEX messages_listing ON messages (created_at, row_id);

            CREATE TABLE parts (
                id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_row BIGINT  NOT NULL REFERENCES messages (row_id),
                position    INTEGER NOT NULL,
                content_id  TEXT    NOT NULL,
                mime_type   TEXT    NOT NULL,
                path        TEXT    NOT NULL,
                size        BIGINT  NOT NULL CHECK (size >= 0),
                sha256      TEXT    NOT NULL CHECK (length(sha256) = 64),
                UNIQUE (message_row, position)
            );

            CREATE TABLE events (
                id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_row BIGINT  NOT NULL REFERENCES messages (row_id),
                at          BIGINT  NOT NULL,
                direction   TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
                status      TEXT    NOT NULL,
                code        TEXT,
                detail      TEXT
            );
            CREATE INDEX events_by_message ON events (message_row, id);
            CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'events are append-only: % refused', TG_OP; END $$;
            CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
                FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
            CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
                FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
            """),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Creates `schema_migrations` if needed and applies every migration newer than the recorded
    /// version, in one transaction under an advisory lock: nodes starting at once take turns, and
    /// the later ones find the work done. Returns the versions applied by this call.
    @discardableResult
    static func migrate(_ connection: PostgresConnection, at now: Date) throws -> [Int] {
        try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock($1::integer, $2::integer)",
                                   [Int(lockNamespace), Int(migrationLock)])
            try connection.executeScript("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    name       TEXT    NOT NULL,
                    applied_at BIGINT  NOT NULL
                )
                """)
            let current = try currentVersion(connection)
            guard current <= latestVersion else {
                throw StoreError.schemaTooNew(found: current, supported: latestVersion)
            }
            var applied: [Int] = []
            for migration in migrations where migration.version > current {
                try connection.executeScript(migration.sql)
                try connection.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                                       [migration.version, migration.name, now])
                applied.append(migration.version)
            }
            return applied
        }
    }

    static func currentVersion(_ connection: PostgresConnection) throws -> Int {
        try connection.execute("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").first?.int("version") ?? 0
    }
}
