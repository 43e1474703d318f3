import Foundation

/// One numbered schema change. Versions are consecutive from 1 (a database applies only what is
/// above its highest version, so a gap filled later would be skipped); a migration, once
/// released, is never edited: a change is a new migration.
struct Migration {
    let version: Int
    let name: String
    let sql: String
}

/// The schema, as the list of migrations that builds it. Dates are INTEGER milliseconds since
/// 1970 (UTC); hashes are lowercase hex; receipts are BLOBs; everything else is TEXT.
enum Schema {
    static let migrations: [Migration] = [
        Migration(version: 1, name: "messages, parts, append-only events", sql: """
            CREATE TABLE messages (
                row_id            INTEGER PRIMARY KEY,
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
                created_at        INTEGER NOT NULL,
                updated_at        INTEGER NOT NULL,
                -- outbound delivery
                endpoint          TEXT,
                content_type      TEXT,
                message_path      TEXT,
                sent_references   TEXT,
                attempts          INTEGER NOT NULL DEFAULT 0,
                max_attempts      INTEGER NOT NULL DEFAULT 0,
                next_attempt_at   INTEGER,
                lease_owner       TEXT,
                lease_until       INTEGER,
                last_error_code   TEXT,
                last_error_reason TEXT,
                pull_mpc          TEXT,
                -- receipt: received (outbound) or answered (inbound)
                receipt           BLOB,
                receipt_at        INTEGER,
                -- inbound
                stored_path       TEXT,
                retrieved_at      INTEGER,
                CHECK ((direction = 'out' AND status IN ('Submitted', 'Sending', 'Delivered', 'Failed'))
                    OR (direction = 'in' AND status IN ('Received', 'Delivered', 'Retrieved'))),
                CHECK (direction = 'in' OR (content_type IS NOT NULL AND message_path IS NOT NULL
                                            AND max_attempts >= 1 AND (endpoint IS NOT NULL OR pull_mpc IS NOT NULL))),
                CHECK (status <> 'Sending' OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
            );
            -- Outbound ids are unique; inbound ids are unique within the duplicate window only.
            CREATE UNIQUE INDEX messages_outbound_id ON messages (message_id) WHERE direction = 'out';
            CREATE INDEX messages_inbound_id ON messages (message_id, created_at) WHERE direction = 'in';
            -- Queue indexes hold only the rows not yet final, so claims stay cheap however much
            -- history accumulates. Queries repeat the WHERE terms literally so SQLite can use them.
            CREATE INDEX messages_queue ON messages (status, next_attempt_at)
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending');
            CREATE INDEX messages_pull_queue ON messages (pull_mpc, created_at)
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND pull_mpc IS NOT NULL;
            CREATE INDEX messages_leases ON messages (lease_until) WHERE status = 'Sending';
            CREATE INDEX messages_listing ON messages (created_at, row_id);

            CREATE TABLE parts (
                id          INTEGER PRIMARY KEY,
                message_row INTEGER NOT NULL REFERENCES messages (row_id),
                position    INTEGER NOT NULL,
                content_id  TEXT    NOT NULL,
                mime_type   TEXT    NOT NULL,
                path        TEXT    NOT NULL,
                size        INTEGER NOT NULL CHECK (size >= 0),
                sha256      TEXT    NOT NULL CHECK (length(sha256) = 64),
                UNIQUE (message_row, position)
            );

            CREATE TABLE events (
                id          INTEGER PRIMARY KEY,
                message_row INTEGER NOT NULL REFERENCES messages (row_id),
                at          INTEGER NOT NULL,
                direction   TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
                status      TEXT    NOT NULL,
                code        TEXT,
                detail      TEXT
            );
            CREATE INDEX events_by_message ON events (message_row, id);
            CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
            CREATE TRIGGER events_no_delete BEFORE DELETE ON events
                BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
            """),
        Migration(version: 2, name: "e-address directory", sql: """
            -- One row per canonical e-address (SQLiteAddressDirectory). The primary key is the
            -- lookup index; WITHOUT ROWID keeps the row in that index, so a lookup is one B-tree walk.
            CREATE TABLE directory_addresses (
                address           TEXT    PRIMARY KEY CHECK (address <> ''),
                owner_id          TEXT    NOT NULL CHECK (owner_id <> ''),
                owner_kind        TEXT    NOT NULL CHECK (owner_kind IN ('institution', 'company', 'naturalPerson')),
                max_message_bytes INTEGER CHECK (max_message_bytes >= 1),
                mailbox_bytes     INTEGER CHECK (mailbox_bytes >= 1),
                retention_days    INTEGER CHECK (retention_days >= 1),
                active_from       INTEGER,
                suspended_from    INTEGER,
                suspended_until   INTEGER,
                blocked_from      INTEGER,
                access_point      TEXT    NOT NULL CHECK (access_point IN ('local', 'remote')),
                party_id          TEXT,
                party_id_type     TEXT,
                endpoint          TEXT,
                certificates      TEXT,
                updated_at        INTEGER NOT NULL,
                CHECK (access_point = 'local' OR (party_id IS NOT NULL AND endpoint IS NOT NULL AND certificates IS NOT NULL)),
                CHECK (suspended_until IS NULL OR suspended_from IS NOT NULL)
            ) WITHOUT ROWID;
            CREATE INDEX directory_addresses_owner ON directory_addresses (owner_id);
            """),
        Migration(version: 3, name: "small messages and payloads kept in the database", sql: """
            -- Below the store's inline limit, the sealed bytes of an outbound message and the
            -- payloads of a received one are written in the same commit as their rows instead of
            -- a payload file each (message_path, or the part's path, is then ''). Tables of their
            -- own, so that reading message and part rows never drags the bytes along.
            CREATE TABLE message_bytes (
                message_row INTEGER PRIMARY KEY REFERENCES messages (row_id),
                bytes       BLOB    NOT NULL
            );
            CREATE TABLE part_bytes (
                part_id INTEGER PRIMARY KEY REFERENCES parts (id),
                bytes   BLOB    NOT NULL
            );
            """),
        Migration(version: 4, name: "backend connections, documents, mailboxes, notifications", sql: """
            -- The backend API (SQLiteMailboxStore). Credentials are SHA-256 digests only.
            CREATE TABLE api_connections (
                name               TEXT    PRIMARY KEY CHECK (name <> ''),
                token_sha256       TEXT    CHECK (length(token_sha256) = 64),
                certificate_sha256 TEXT    CHECK (length(certificate_sha256) = 64),
                addresses          TEXT    NOT NULL,
                created_at         INTEGER NOT NULL,
                revoked_at         INTEGER,
                notified_upto      INTEGER NOT NULL DEFAULT 0,
                -- webhook push: the HMAC key is kept as is (it signs; a digest could not)
                webhook_url        TEXT,
                webhook_secret     TEXT,
                webhook_upto       INTEGER NOT NULL DEFAULT 0,
                webhook_attempts   INTEGER NOT NULL DEFAULT 0,
                webhook_next_at    INTEGER,
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
                delivery_by       INTEGER,
                created_at        INTEGER NOT NULL,
                CHECK (connection IS NOT NULL OR origin_party IS NOT NULL)
            );
            CREATE UNIQUE INDEX documents_idempotency ON documents (connection, idempotency_key)
                WHERE connection IS NOT NULL AND idempotency_key IS NOT NULL;
            CREATE TABLE document_files (
                message_id TEXT    NOT NULL REFERENCES documents (message_id),
                position   INTEGER NOT NULL,
                name       TEXT    NOT NULL,
                mime_type  TEXT    NOT NULL,
                path       TEXT    NOT NULL,
                size       INTEGER NOT NULL CHECK (size >= 0),
                sha256     TEXT    NOT NULL CHECK (length(sha256) = 64),
                PRIMARY KEY (message_id, position)
            );
            CREATE TABLE document_recipients (
                id              INTEGER PRIMARY KEY,
                message_id      TEXT    NOT NULL REFERENCES documents (message_id),
                address         TEXT    NOT NULL,
                route           TEXT    NOT NULL CHECK (route IN ('mailbox', 'remote')),
                status          TEXT    NOT NULL CHECK (status IN ('Submitted', 'DeliveryDelayed', 'Accepted', 'Delivered',
                                                                   'RecipientAccepted', 'RecipientRejected', 'Failed')),
                party           TEXT,
                as4_message_id  TEXT,
                receipt         BLOB,
                decision        TEXT    CHECK (decision IN ('accept', 'reject')),
                decision_code   TEXT,
                decision_reason TEXT,
                decided_at      INTEGER,
                retrieved_at    INTEGER,
                -- the document's deliveryBy (documents submitted here only)
                deadline_at     INTEGER,
                updated_at      INTEGER NOT NULL,
                UNIQUE (message_id, address),
                CHECK (route = 'mailbox' OR (party IS NOT NULL AND as4_message_id IS NOT NULL))
            );
            CREATE INDEX document_recipients_mailbox ON document_recipients (address, id) WHERE route = 'mailbox';
            CREATE UNIQUE INDEX document_recipients_as4 ON document_recipients (as4_message_id) WHERE as4_message_id IS NOT NULL;
            -- Only recipients a deadline can still act on; the query repeats the WHERE terms.
            CREATE INDEX document_recipients_deadline ON document_recipients (deadline_at)
                WHERE deadline_at IS NOT NULL AND status IN ('Submitted', 'Accepted', 'Delivered');
            CREATE INDEX document_recipients_unsent ON document_recipients (id) WHERE route = 'remote' AND status = 'Submitted';
            CREATE TABLE document_events (
                id         INTEGER PRIMARY KEY,
                message_id TEXT    NOT NULL REFERENCES documents (message_id),
                address    TEXT,
                at         INTEGER NOT NULL,
                status     TEXT    NOT NULL,
                detail     TEXT
            );
            CREATE INDEX document_events_by_message ON document_events (message_id, id);
            CREATE TRIGGER document_events_no_update BEFORE UPDATE ON document_events
                BEGIN SELECT RAISE(ABORT, 'document events are append-only: UPDATE refused'); END;
            CREATE TRIGGER document_events_no_delete BEFORE DELETE ON document_events
                BEGIN SELECT RAISE(ABORT, 'document events are append-only: DELETE refused'); END;
            CREATE TABLE notifications (
                id         INTEGER PRIMARY KEY,
                address    TEXT    NOT NULL,
                kind       TEXT    NOT NULL,
                message_id TEXT    NOT NULL,
                recipient  TEXT,
                detail     TEXT,
                at         INTEGER NOT NULL
            );
            CREATE INDEX notifications_by_address ON notifications (address, id);
            -- Resumable uploads: chunks are appended in order to `path`; a completed upload is
            -- taken by at most one document (used_by), in that document's transaction.
            CREATE TABLE uploads (
                id           TEXT    PRIMARY KEY CHECK (id <> ''),
                connection   TEXT    NOT NULL,
                name         TEXT    NOT NULL,
                mime_type    TEXT    NOT NULL,
                size         INTEGER NOT NULL CHECK (size >= 1),
                chunk_size   INTEGER NOT NULL CHECK (chunk_size >= 1),
                received     INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
                path         TEXT    NOT NULL,
                sha256       TEXT    CHECK (length(sha256) = 64),
                created_at   INTEGER NOT NULL,
                completed_at INTEGER,
                used_by      TEXT,
                CHECK (completed_at IS NULL OR sha256 IS NOT NULL),
                CHECK (used_by IS NULL OR completed_at IS NOT NULL)
            );
            CREATE TABLE worker_cursors (
                name  TEXT    PRIMARY KEY,
                value INTEGER NOT NULL
            );
            """),
        Migration(version: 5, name: "roles of backend connections", sql: """
            -- Comma-separated ConnectionRole names (operator, lookup); empty for a plain DMS.
            ALTER TABLE api_connections ADD COLUMN roles TEXT NOT NULL DEFAULT '';
            """),
        RecipientRegisterSchema.sqliteMigration,
        Migration(version: 7, name: "hash chains over the event tables", sql: """
            -- EventChain: hash = SHA-256 over prev_hash and the row's fields; rows written before
            -- this migration keep NULLs and are reported as unchained by `as4gw audit verify`.
            ALTER TABLE events ADD COLUMN prev_hash TEXT;
            ALTER TABLE events ADD COLUMN hash TEXT;
            ALTER TABLE document_events ADD COLUMN prev_hash TEXT;
            ALTER TABLE document_events ADD COLUMN hash TEXT;
            """),
        Migration(version: 8, name: "retention, legal holds, purge records", sql: RetentionSchema.sqlite),
        Migration(version: 9, name: "self-service registrations, their certificates and append-only history", sql: RegistrationSchema.sqlite),
        Migration(version: 10, name: "e-mail notices of mailbox arrivals", sql: NoticeSchema.sqlite),
        Migration(version: 11, name: "tombstones of purged document events", sql: """
            -- The purge of a document takes its document_events rows; what stays of each is its
            -- place in the hash chain (id, prev_hash, hash, and the purge that took it), so
            -- `as4gw audit verify` still proves that nothing else was removed or changed.
            CREATE TABLE event_tombstones (
                tbl        TEXT    NOT NULL,
                id         INTEGER NOT NULL,
                message_id TEXT    NOT NULL,
                prev_hash  TEXT,
                hash       TEXT,
                purge_id   INTEGER NOT NULL,
                PRIMARY KEY (tbl, id)
            );
            CREATE TRIGGER event_tombstones_no_update BEFORE UPDATE ON event_tombstones
                BEGIN SELECT RAISE(ABORT, 'event tombstones are append-only: UPDATE refused'); END;
            CREATE TRIGGER event_tombstones_no_delete BEFORE DELETE ON event_tombstones
                BEGIN SELECT RAISE(ABORT, 'event tombstones are append-only: DELETE refused'); END;
            -- A document event leaves only with its tombstone: deleting the newest rows by hand
            -- would otherwise leave a shorter chain that still verifies.
            CREATE TRIGGER document_events_tombstoned BEFORE DELETE ON document_events
                WHEN NOT EXISTS (SELECT 1 FROM event_tombstones t WHERE t.tbl = 'document_events' AND t.id = OLD.id AND t.hash IS OLD.hash)
                BEGIN SELECT RAISE(ABORT, 'a document event is deleted only by the purge, after its tombstone'); END;
            """),
        Migration(version: 12, name: "files a purge still has to remove", sql: """
            -- Written in the purge's transaction, removed once the file is gone: a crash or a
            -- failed unlink after the commit leaves a row to try again, not a file nobody knows of.
            CREATE TABLE purge_files (
                purge_id INTEGER NOT NULL,
                path     TEXT    NOT NULL CHECK (path <> ''),
                PRIMARY KEY (purge_id, path)
            );
            """),
        Migration(version: 13, name: "ids a purge must not hand out again", sql: """
            -- SQLite gives a new row max(id) + 1, so purging the newest recipients would hand
            -- their ids out again and an inbox cursor past them would skip the new documents.
            -- The purge records the highest id it removed; inserts start above it.
            CREATE TABLE id_watermarks (
                tbl     TEXT    PRIMARY KEY,
                last_id INTEGER NOT NULL
            );
            INSERT INTO id_watermarks (tbl, last_id) SELECT 'document_recipients', coalesce(max(id), 0) FROM document_recipients;
            """),
        Migration(version: 14, name: "what a document is cannot be updated away", sql: RetentionSchema.sqliteImmutable),
        Migration(version: 15, name: "no row of a document replaced; a deadline acts once", sql: RetentionSchema.sqliteNoReplace + """
            -- Recipients delayed before a deadline acted only once: it has acted.
            UPDATE document_recipients SET deadline_at = NULL WHERE status = 'DeliveryDelayed' AND deadline_at IS NOT NULL;
            """),
        Migration(version: 16, name: "message and part properties", sql: PropertySchema.sql),
        Migration(version: 17, name: "one reply per Two-Way request", sql: TwoWayReplySchema.sqlite),
        Migration(version: 18, name: "purge runs: a clock that jumps defers the purge", sql: PurgeRunSchema.sqlite),
        Migration(version: 19, name: "signed requests already taken", sql: SeenRequestSchema.sqlite),
        Migration(version: 20, name: "inbound messages whose intake failed after the receipt", sql: IntakeFailureSchema.sqlite),
        Migration(version: 21, name: "what was submitted under an idempotency key", sql: IdempotencyFingerprintSchema.sqlite),
        Migration(version: 22, name: "why a register lookup was made", sql: ChannelLookupPurposeSchema.sql),
        Migration(version: 23, name: "a legal hold is released by someone, now", sql: LegalHoldReleaseSchema.sqlite),
        Migration(version: 24, name: "status reports owed to the access points documents came from", sql: OwedReportSchema.sqlite),
        Migration(version: 25, name: "a notice withdrawn when its document no longer waits", sql: NoticeWithdrawalSchema.sqlite),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Creates `schema_migrations` if needed and applies every migration newer than the recorded
    /// version, all in one `BEGIN IMMEDIATE` transaction (two processes opening a new database at
    /// once serialize here; the second sees the first's work and applies nothing).
    /// Returns the versions applied by this call.
    @discardableResult
    static func migrate(_ connection: SQLiteConnection, at now: Date) throws -> [Int] {
        try connection.immediateTransaction {
            try connection.execute(script: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    name       TEXT    NOT NULL,
                    applied_at INTEGER NOT NULL
                );
                """)
            let current = try currentVersion(connection)
            guard current <= latestVersion else {
                throw StoreError.schemaTooNew(found: current, supported: latestVersion)
            }
            var applied: [Int] = []
            for migration in migrations where migration.version > current {
                try connection.execute(script: migration.sql)
                try connection.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                   [migration.version, migration.name, now])
                applied.append(migration.version)
            }
            return applied
        }
    }

    static func currentVersion(_ connection: SQLiteConnection) throws -> Int {
        try connection.queryFirst("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations") {
            $0.int("version")
        } ?? 0
    }
}
