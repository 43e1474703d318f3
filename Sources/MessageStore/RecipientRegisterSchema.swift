/// The tables of the recipient registers (non-digital persons with their history, channel
/// lookups, messaging opt-ins, companies): SQLite migration 6, PostgreSQL migration 5. Kept
/// here so the schema files only list them.
enum RecipientRegisterSchema {
    static let sqliteMigration = Migration(version: 6, name: "non-digital persons, channel lookups, opt-ins, company register", sql: """
        CREATE TABLE non_digital_persons (
            id          INTEGER PRIMARY KEY,
            person_code TEXT    NOT NULL CHECK (length(person_code) = 11),
            reason      TEXT    NOT NULL CHECK (reason <> ''),
            valid_from  INTEGER NOT NULL,
            valid_until INTEGER,
            recorded_by TEXT    NOT NULL,
            recorded_at INTEGER NOT NULL,
            ended_by    TEXT,
            ended_at    INTEGER,
            CHECK (valid_until IS NULL OR valid_until > valid_from),
            CHECK ((ended_by IS NULL) = (ended_at IS NULL))
        );
        CREATE INDEX non_digital_persons_by_code ON non_digital_persons (person_code);
        -- An entry is ended, never deleted: the register answers for the past too.
        CREATE TRIGGER non_digital_persons_no_delete BEFORE DELETE ON non_digital_persons
            BEGIN SELECT RAISE(ABORT, 'non-digital persons are ended, not deleted: DELETE refused'); END;
        CREATE TABLE non_digital_history (
            id            INTEGER PRIMARY KEY,
            entry_id      INTEGER NOT NULL REFERENCES non_digital_persons (id),
            person_code   TEXT    NOT NULL,
            action        TEXT    NOT NULL CHECK (action IN ('added', 'ended')),
            by_connection TEXT    NOT NULL,
            at            INTEGER NOT NULL,
            detail        TEXT    NOT NULL
        );
        CREATE INDEX non_digital_history_by_code ON non_digital_history (person_code, id);
        CREATE TRIGGER non_digital_history_no_update BEFORE UPDATE ON non_digital_history
            BEGIN SELECT RAISE(ABORT, 'the non-digital register history is append-only: UPDATE refused'); END;
        CREATE TRIGGER non_digital_history_no_delete BEFORE DELETE ON non_digital_history
            BEGIN SELECT RAISE(ABORT, 'the non-digital register history is append-only: DELETE refused'); END;
        CREATE TABLE channel_lookups (
            id           INTEGER PRIMARY KEY,
            connection   TEXT    NOT NULL,
            at           INTEGER NOT NULL,
            person_count INTEGER NOT NULL,
            person_codes TEXT    NOT NULL
        );
        CREATE TRIGGER channel_lookups_no_update BEFORE UPDATE ON channel_lookups
            BEGIN SELECT RAISE(ABORT, 'channel lookups are append-only: UPDATE refused'); END;
        CREATE TRIGGER channel_lookups_no_delete BEFORE DELETE ON channel_lookups
            BEGIN SELECT RAISE(ABORT, 'channel lookups are append-only: DELETE refused'); END;
        CREATE TABLE messaging_opt_ins (
            address        TEXT    PRIMARY KEY,
            from_companies INTEGER NOT NULL CHECK (from_companies IN (0, 1)),
            from_persons   INTEGER NOT NULL CHECK (from_persons IN (0, 1)),
            set_by         TEXT    NOT NULL,
            set_at         INTEGER NOT NULL
        );
        CREATE TABLE companies (
            registration_number TEXT    PRIMARY KEY,
            name                TEXT    NOT NULL,
            legal_form          TEXT    NOT NULL,
            status              TEXT    NOT NULL,
            liquidated_on       INTEGER,
            updated_at          INTEGER NOT NULL
        );
        """)

    static let postgresMigration = Migration(version: 5, name: "non-digital persons, channel lookups, opt-ins, company register", sql: """
        CREATE TABLE non_digital_persons (
            id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            person_code TEXT    NOT NULL CHECK (length(person_code) = 11),
            reason      TEXT    NOT NULL CHECK (reason <> ''),
            valid_from  BIGINT  NOT NULL,
            valid_until BIGINT,
            recorded_by TEXT    NOT NULL,
            recorded_at BIGINT  NOT NULL,
            ended_by    TEXT,
            ended_at    BIGINT,
            CHECK (valid_until IS NULL OR valid_until > valid_from),
            CHECK ((ended_by IS NULL) = (ended_at IS NULL))
        );
        CREATE INDEX non_digital_persons_by_code ON non_digital_persons (person_code);
        CREATE FUNCTION recipient_registers_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$;
        CREATE TRIGGER non_digital_persons_no_delete BEFORE DELETE ON non_digital_persons
            FOR EACH ROW EXECUTE FUNCTION recipient_registers_refuse_change();
        CREATE TABLE non_digital_history (
            id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            entry_id      BIGINT  NOT NULL REFERENCES non_digital_persons (id),
            person_code   TEXT    NOT NULL,
            action        TEXT    NOT NULL CHECK (action IN ('added', 'ended')),
            by_connection TEXT    NOT NULL,
            at            BIGINT  NOT NULL,
            detail        TEXT    NOT NULL
        );
        CREATE INDEX non_digital_history_by_code ON non_digital_history (person_code, id);
        CREATE TRIGGER non_digital_history_no_change BEFORE UPDATE OR DELETE ON non_digital_history
            FOR EACH ROW EXECUTE FUNCTION recipient_registers_refuse_change();
        CREATE TABLE channel_lookups (
            id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            connection   TEXT    NOT NULL,
            at           BIGINT  NOT NULL,
            person_count INTEGER NOT NULL,
            person_codes TEXT    NOT NULL
        );
        CREATE TRIGGER channel_lookups_no_change BEFORE UPDATE OR DELETE ON channel_lookups
            FOR EACH ROW EXECUTE FUNCTION recipient_registers_refuse_change();
        CREATE TABLE messaging_opt_ins (
            address        TEXT    PRIMARY KEY,
            from_companies INTEGER NOT NULL CHECK (from_companies IN (0, 1)),
            from_persons   INTEGER NOT NULL CHECK (from_persons IN (0, 1)),
            set_by         TEXT    NOT NULL,
            set_at         BIGINT  NOT NULL
        );
        CREATE TABLE companies (
            registration_number TEXT    PRIMARY KEY,
            name                TEXT    NOT NULL,
            legal_form          TEXT    NOT NULL,
            status              TEXT    NOT NULL,
            liquidated_on       BIGINT,
            updated_at          BIGINT  NOT NULL
        );
        """)
}
