/// SQLite migration 18 / PostgreSQL migration 16: `purge_runs`, one row per retention purge run
/// (docs/RETENTION.md, "A clock that jumps"). The purge judges by the clock of whoever runs it;
/// these rows are what a later run compares its clock with, so a clock stepped forward (or a node
/// down for long) defers the purge instead of shortening archives. Append-only, like `purges`.
enum PurgeRunSchema {
    static let sqlite = """
        CREATE TABLE purge_runs (
            id             INTEGER PRIMARY KEY,
            run_at         INTEGER NOT NULL,
            run_by         TEXT    NOT NULL,
            outcome        TEXT    NOT NULL CHECK (outcome IN ('proceeded', 'deferred', 'overridden')),
            deferred_until INTEGER,
            detail         TEXT    NOT NULL DEFAULT '',
            CHECK ((outcome = 'deferred') = (deferred_until IS NOT NULL))
        );
        CREATE TRIGGER purge_runs_no_update BEFORE UPDATE ON purge_runs
            BEGIN SELECT RAISE(ABORT, 'purge runs are append-only: UPDATE refused'); END;
        CREATE TRIGGER purge_runs_no_delete BEFORE DELETE ON purge_runs
            BEGIN SELECT RAISE(ABORT, 'purge runs are append-only: DELETE refused'); END;
        """

    static let postgres = """
        CREATE TABLE purge_runs (
            id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_at         BIGINT  NOT NULL,
            run_by         TEXT    NOT NULL,
            outcome        TEXT    NOT NULL CHECK (outcome IN ('proceeded', 'deferred', 'overridden')),
            deferred_until BIGINT,
            detail         TEXT    NOT NULL DEFAULT '',
            CHECK ((outcome = 'deferred') = (deferred_until IS NOT NULL))
        );
        CREATE FUNCTION purge_runs_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'purge runs are append-only: % refused', TG_OP; END $$;
        CREATE TRIGGER purge_runs_no_change BEFORE UPDATE OR DELETE ON purge_runs
            FOR EACH ROW EXECUTE FUNCTION purge_runs_refuse_change();
        CREATE TRIGGER purge_runs_no_truncate BEFORE TRUNCATE ON purge_runs
            FOR EACH STATEMENT EXECUTE FUNCTION retention_refuse_truncate();
        """
}
