import Foundation

/// The PostgreSQL schema, as the list of migrations that builds it: the same tables, columns and
/// rules as the SQLite `Schema` (dates are BIGINT milliseconds since 1970, receipts BYTEA), so
/// both stores answer the same values. Versions are consecutive from 1 (a database applies only
/// what is above its highest version, so a gap filled later would be skipped); a released
/// migration is never edited: a change is a new migration.
enum PostgresSchema {
    /// `pg_advisory_xact_lock` keys (first argument: this application's namespace).
    static let lockNamespace: Int32 = 0x4153_3447  // "AS4G"
    static let migrationLock: Int32 = 1
    static let eventOrderLock: Int32 = 2
    /// Held from a mailbox transaction's first recipient or notification insert to its COMMIT, so
    /// their ids become visible in order (inboxes, the feed and webhooks follow "ids after N").
    static let mailboxOrderLock: Int32 = 3
    /// Held by a directory import until COMMIT, so imports from two nodes take turns.
    static let directoryImportLock: Int32 = 4

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
        Migration(version: 2, name: "e-address directory", sql: """
            CREATE TABLE directory_addresses (
                address           TEXT    PRIMARY KEY CHECK (address <> ''),
                owner_id          TEXT    NOT NULL CHECK (owner_id <> ''),
                owner_kind        TEXT    NOT NULL CHECK (owner_kind IN ('institution', 'company', 'naturalPerson')),
                max_message_bytes BIGINT  CHECK (max_message_bytes >= 1),
                mailbox_bytes     BIGINT  CHECK (mailbox_bytes >= 1),
                retention_days    BIGINT  CHECK (retention_days >= 1),
                active_from       BIGINT,
                suspended_from    BIGINT,
                suspended_until   BIGINT,
                blocked_from      BIGINT,
                access_point      TEXT    NOT NULL CHECK (access_point IN ('local', 'remote')),
                party_id          TEXT,
                party_id_type     TEXT,
                endpoint          TEXT,
                certificates      TEXT,
                updated_at        BIGINT  NOT NULL,
                CHECK (access_point = 'local' OR (party_id IS NOT NULL AND endpoint IS NOT NULL AND certificates IS NOT NULL)),
                CHECK (suspended_until IS NULL OR suspended_from IS NOT NULL)
            );
            CREATE INDEX directory_addresses_owner ON directory_addresses (owner_id);
            """),
        Migration(version: 3, name: "backend connections, documents, mailboxes, notifications", sql: """
            -- The backend API (PostgresMailboxStore), as SQLite's migration 4. Credentials are
            -- SHA-256 digests only.
            CREATE TABLE api_connections (
                name               TEXT    PRIMARY KEY CHECK (name <> ''),
                token_sha256       TEXT    CHECK (length(token_sha256) = 64),
                certificate_sha256 TEXT    CHECK (length(certificate_sha256) = 64),
                addresses          TEXT    NOT NULL,
                created_at         BIGINT  NOT NULL,
                revoked_at         BIGINT,
                notified_upto      BIGINT  NOT NULL DEFAULT 0,
                webhook_url        TEXT,
                webhook_secret     TEXT,
                webhook_upto       BIGINT  NOT NULL DEFAULT 0,
                webhook_attempts   INTEGER NOT NULL DEFAULT 0,
                webhook_next_at    BIGINT,
                webhook_error      TEXT,
                CHECK (token_sha256 IS NOT NULL OR certificate_sha256 IS NOT NULL),
                CHECK ((webhook_url IS NULL) = (webhook_secret IS NULL))
            );
            CREATE TABLE documents (
                message_id        TEXT    PRIMARY KEY CHECK (message_id <> ''),
                connection        TEXT,
                idempotency_key   TEXT,
                sender            TEXT    NOT NULL,
                metadata          TEXT    NOT NULL,
                origin_party      TEXT,
                origin_message_id TEXT,
                delivery_by       BIGINT,
                created_at        BIGINT  NOT NULL,
                CHECK (connection IS NOT NULL OR origin_party IS NOT NULL)
            );
            -- One document per key and connection, whichever node took the submission.
            CREATE UNIQUE INDEX documents_idempotency ON documents (connection, idempotency_key)
                WHERE connection IS NOT NULL AND idempotency_key IS NOT NULL;
            CREATE TABLE document_files (
                message_id TEXT    NOT NULL REFERENCES documents (message_id),
                position   INTEGER NOT NULL,
                name       TEXT    NOT NULL,
                mime_type  TEXT    NOT NULL,
                path       TEXT    NOT NULL,
                size       BIGINT  NOT NULL CHECK (size >= 0),
                sha256     TEXT    NOT NULL CHECK (length(sha256) = 64),
                PRIMARY KEY (message_id, position)
            );
            CREATE TABLE document_recipients (
                id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id      TEXT    NOT NULL REFERENCES documents (message_id),
                address         TEXT    NOT NULL,
                route           TEXT    NOT NULL CHECK (route IN ('mailbox', 'remote')),
                status          TEXT    NOT NULL CHECK (status IN ('Submitted', 'DeliveryDelayed', 'Accepted', 'Delivered',
                                                                   'RecipientAccepted', 'RecipientRejected', 'Failed')),
                party           TEXT,
                as4_message_id  TEXT,
                receipt         BYTEA,
                decision        TEXT    CHECK (decision IN ('accept', 'reject')),
                decision_code   TEXT,
                decision_reason TEXT,
                decided_at      BIGINT,
                retrieved_at    BIGINT,
                deadline_at     BIGINT,
                updated_at      BIGINT  NOT NULL,
                UNIQUE (message_id, address),
                CHECK (route = 'mailbox' OR (party IS NOT NULL AND as4_message_id IS NOT NULL))
            );
            CREATE INDEX document_recipients_mailbox ON document_recipients (address, id) WHERE route = 'mailbox';
            CREATE UNIQUE INDEX document_recipients_as4 ON document_recipients (as4_message_id) WHERE as4_message_id IS NOT NULL;
            CREATE INDEX document_recipients_deadline ON document_recipients (deadline_at)
                WHERE deadline_at IS NOT NULL AND status IN ('Submitted', 'Accepted', 'Delivered');
            CREATE INDEX document_recipients_unsent ON document_recipients (id) WHERE route = 'remote' AND status = 'Submitted';
            CREATE TABLE document_events (
                id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id TEXT    NOT NULL REFERENCES documents (message_id),
                address    TEXT,
                at         BIGINT  NOT NULL,
                status     TEXT    NOT NULL,
                detail     TEXT
            );
            CREATE INDEX document_events_by_message ON document_events (message_id, id);
            CREATE FUNCTION document_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'document events are append-only: % refused', TG_OP; END $$;
            CREATE TRIGGER document_events_no_update BEFORE UPDATE OR DELETE ON document_events
                FOR EACH ROW EXECUTE FUNCTION document_events_refuse_change();
            CREATE TABLE notifications (
                id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                address    TEXT    NOT NULL,
                kind       TEXT    NOT NULL,
                message_id TEXT    NOT NULL,
                recipient  TEXT,
                detail     TEXT,
                at         BIGINT  NOT NULL
            );
            CREATE INDEX notifications_by_address ON notifications (address, id);
            CREATE TABLE uploads (
                id           TEXT    PRIMARY KEY CHECK (id <> ''),
                connection   TEXT    NOT NULL,
                name         TEXT    NOT NULL,
                mime_type    TEXT    NOT NULL,
                size         BIGINT  NOT NULL CHECK (size >= 1),
                chunk_size   BIGINT  NOT NULL CHECK (chunk_size >= 1),
                received     INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
                path         TEXT    NOT NULL,
                sha256       TEXT    CHECK (length(sha256) = 64),
                created_at   BIGINT  NOT NULL,
                completed_at BIGINT,
                used_by      TEXT,
                CHECK (completed_at IS NULL OR sha256 IS NOT NULL),
                CHECK (used_by IS NULL OR completed_at IS NOT NULL)
            );
            CREATE TABLE worker_cursors (
                name  TEXT    PRIMARY KEY,
                value BIGINT  NOT NULL
            );
            """),
        Migration(version: 4, name: "roles of backend connections", sql: """
            -- As SQLite's migration 5.
            ALTER TABLE api_connections ADD COLUMN roles TEXT NOT NULL DEFAULT '';
            """),
        RecipientRegisterSchema.postgresMigration,
        Migration(version: 6, name: "hash chains over the event tables", sql: """
            -- As SQLite's migration 7. Hashes are computed under the table's order lock
            -- (eventOrderLock, mailboxOrderLock), where the ids are handed out.
            ALTER TABLE events ADD COLUMN prev_hash TEXT;
            ALTER TABLE events ADD COLUMN hash TEXT;
            ALTER TABLE document_events ADD COLUMN prev_hash TEXT;
            ALTER TABLE document_events ADD COLUMN hash TEXT;
            """),
        Migration(version: 7, name: "retention, legal holds, purge records", sql: RetentionSchema.postgres),
        Migration(version: 8, name: "self-service registrations, their certificates and append-only history", sql: RegistrationSchema.postgres),
        Migration(version: 9, name: "e-mail notices of mailbox arrivals", sql: NoticeSchema.postgres),
        Migration(version: 10, name: "tombstones of purged document events", sql: """
            -- The purge of a document takes its document_events rows; what stays of each is its
            -- place in the hash chain (id, prev_hash, hash, and the purge that took it), so
            -- `as4gw audit verify` still proves that nothing else was removed or changed.
            CREATE TABLE event_tombstones (
                tbl        TEXT    NOT NULL,
                id         BIGINT NOT NULL,
                message_id TEXT    NOT NULL,
                prev_hash  TEXT,
                hash       TEXT,
                purge_id   BIGINT NOT NULL,
                PRIMARY KEY (tbl, id)
            );
            CREATE FUNCTION event_tombstones_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'event tombstones are append-only: % refused', TG_OP; END $$;
            CREATE TRIGGER event_tombstones_append_only BEFORE UPDATE OR DELETE ON event_tombstones
                FOR EACH ROW EXECUTE FUNCTION event_tombstones_refuse_change();
            CREATE TRIGGER event_tombstones_no_truncate BEFORE TRUNCATE ON event_tombstones
                FOR EACH STATEMENT EXECUTE FUNCTION event_tombstones_refuse_change();
            -- As SQLite's: a document event leaves only with its tombstone.
            CREATE FUNCTION document_events_require_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM event_tombstones t WHERE t.tbl = 'document_events' AND t.id = OLD.id
                               AND t.hash IS NOT DISTINCT FROM OLD.hash) THEN
                    RAISE EXCEPTION 'a document event is deleted only by the purge, after its tombstone';
                END IF;
                RETURN OLD;
            END $$;
            CREATE TRIGGER document_events_tombstoned BEFORE DELETE ON document_events
                FOR EACH ROW EXECUTE FUNCTION document_events_require_tombstone();
            """),
        Migration(version: 11, name: "files a purge still has to remove", sql: """
            -- Written in the purge's transaction, removed once the file is gone: a crash or a
            -- failed unlink after the commit leaves a row to try again, not a file nobody knows of.
            CREATE TABLE purge_files (
                purge_id BIGINT NOT NULL,
                path     TEXT    NOT NULL CHECK (path <> ''),
                PRIMARY KEY (purge_id, path)
            );
            """),
        Migration(version: 12, name: "what a document is cannot be updated away", sql: RetentionSchema.postgresImmutable),
        Migration(version: 13, name: "a deadline acts once", sql: """
            UPDATE document_recipients SET deadline_at = NULL WHERE status = 'DeliveryDelayed' AND deadline_at IS NOT NULL;
            """),
        Migration(version: 14, name: "message and part properties", sql: PropertySchema.sql),
        Migration(version: 15, name: "one reply per Two-Way request", sql: TwoWayReplySchema.postgres),
        Migration(version: 16, name: "purge runs: a clock that jumps defers the purge", sql: PurgeRunSchema.postgres),
        Migration(version: 17, name: "signed requests already taken", sql: SeenRequestSchema.postgres),
        Migration(version: 18, name: "inbound messages whose intake failed after the receipt", sql: IntakeFailureSchema.postgres),
        Migration(version: 19, name: "the shared payload directory's identity, job lock generations", sql: """
            -- One row: the id every node's payloadDirectory/.as4gw-store must hold, so a node that
            -- sees another directory than the others (a volume not mounted) refuses to start. The
            -- primary key makes the first start of two nodes a race one insert wins.
            CREATE TABLE payload_directory (
                only_row   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                id         TEXT    NOT NULL CHECK (id <> ''),
                first_path TEXT    NOT NULL,
                first_node TEXT    NOT NULL,
                created_at BIGINT  NOT NULL
            );
            -- Per background job: which job session took it last (holder) and how often it changed
            -- hands (generation), checked in the transaction that commits a job's result, and until
            -- when (the database's clock, ms) an effect outside the database it started may still be
            -- under way, so a node taking the job over waits that long.
            CREATE TABLE job_fences (
                job        TEXT    PRIMARY KEY CHECK (job <> ''),
                generation BIGINT  NOT NULL CHECK (generation >= 1),
                holder     TEXT    NOT NULL,
                busy_until BIGINT  NOT NULL DEFAULT 0
            );
            """),
        Migration(version: 20, name: "what was submitted under an idempotency key", sql: IdempotencyFingerprintSchema.postgres),
        Migration(version: 21, name: "why a register lookup was made", sql: ChannelLookupPurposeSchema.sql),
        Migration(version: 22, name: "a legal hold is released by someone, now", sql: LegalHoldReleaseSchema.postgres),
        Migration(version: 23, name: "status reports owed to the access points documents came from", sql: OwedReportSchema.postgres),
        Migration(version: 24, name: "a notice withdrawn when its document no longer waits", sql: NoticeWithdrawalSchema.postgres),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Creates `schema_migrations` if needed and applies every migration newer than the recorded
    /// version, in one transaction under an advisory lock: nodes starting at once take turns, and
    /// the later ones find the work done. Returns the versions applied by this call.
    @discardableResult
    static func migrate(_ connection: PostgresConnection, at now: Date) throws -> [Int] {
        try connection.transaction {
            // Another node's migration may hold the lock a long while, and a migration may rewrite
            // a large table: neither is a stuck session (`PostgresConnection.sessionBounds`).
            try connection.executeScript("SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0")
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

    /// The recorded version, 0 for a database no build has migrated yet; reads only.
    static func installedVersion(_ connection: PostgresConnection) throws -> Int {
        let present = try connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS present").first?.string("present")
        return present == "t" ? try currentVersion(connection) : 0
    }

    /// What every PostgreSQL store does on opening: migrate, or check (`SchemaAccess`) that the
    /// schema is exactly this build's without writing anything.
    static func prepare(_ connection: PostgresConnection, _ access: SchemaAccess, at now: Date) throws {
        switch access {
        case .migrate:
            try migrate(connection, at: now)
        case .existing:
            let found = try installedVersion(connection)
            guard found <= latestVersion else { throw StoreError.schemaTooNew(found: found, supported: latestVersion) }
            guard found == latestVersion else { throw StoreError.schemaTooOld(found: found, required: latestVersion) }
        }
    }
}
