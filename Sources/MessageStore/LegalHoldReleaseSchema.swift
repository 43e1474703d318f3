import Foundation

/// The legal hold release migration (SQLite 23, PostgreSQL 22): the triggers that kept a hold to
/// its one release did not judge the release itself, so plain SQL could end a hold under any
/// name and at any time, 1970 included, and the purge then took what the hold had kept. A
/// release must now name who released it and happen now: not before the hold was placed, and
/// within `RetentionRules.releaseClockTolerance` (five minutes) of the database's own clock,
/// the clock the document triggers judge by (docs/RETENTION.md: SQLite's is the machine's,
/// PostgreSQL's the server's). Rows already released stay as they are; `as4gw audit verify`
/// names the implausible ones (`LegalHoldAudit`).
enum LegalHoldReleaseSchema {
    static let sqlite = """
        CREATE TRIGGER legal_holds_release_checked BEFORE UPDATE ON legal_holds
            WHEN NEW.released_at IS NOT NULL AND OLD.released_at IS NULL
                 AND (NEW.released_by IS NULL OR trim(NEW.released_by) = '' OR NEW.released_at < OLD.placed_at
                      OR abs(NEW.released_at - CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)) > 300000)
            BEGIN SELECT RAISE(ABORT, 'a legal hold is released by a named releaser, at the database''s present time (within 5 minutes), not before it was placed'); END;
        """

    static let postgres = """
        CREATE FUNCTION legal_holds_release_checked() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.released_at IS NOT NULL AND OLD.released_at IS NULL
                   AND (NEW.released_by IS NULL OR btrim(NEW.released_by) = '' OR NEW.released_at < OLD.placed_at
                        OR abs(NEW.released_at - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) > 300000) THEN
                    RAISE EXCEPTION 'a legal hold is released by a named releaser, at the database''s present time (within 5 minutes), not before it was placed';
                END IF;
                RETURN NEW;
            END $$;
        CREATE TRIGGER legal_holds_release_checked BEFORE UPDATE ON legal_holds
            FOR EACH ROW EXECUTE FUNCTION legal_holds_release_checked();
        """
}
