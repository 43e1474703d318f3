import Foundation

/// The outbox of status reports owed to the access points documents came from (SQLite 24,
/// PostgreSQL 23; `OwedReport`). A row is written in the transaction of the recipient's step
/// and deleted once the report is in the outbound queue; while one exists, its document is not
/// purged (docs/RETENTION.md), and the foreign key on the recipient says so to the database too.
enum OwedReportSchema {
    private static let statuses = OwedReport.reportable.map { "'\($0.rawValue)'" }.joined(separator: ", ")

    static let sqlite = """
        CREATE TABLE owed_reports (
            id           INTEGER PRIMARY KEY,
            message_id   TEXT    NOT NULL,
            address      TEXT    NOT NULL,
            status       TEXT    NOT NULL CHECK (status IN (\(statuses))),
            code         TEXT,
            reason       TEXT,
            at           INTEGER NOT NULL,
            retrieved_at INTEGER,
            due_at       INTEGER NOT NULL,
            attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            last_error   TEXT,
            FOREIGN KEY (message_id, address) REFERENCES document_recipients (message_id, address)
        );
        -- A recipient's reports in the order they were owed (the queueing follows it).
        CREATE INDEX owed_reports_by_recipient ON owed_reports (message_id, address, id);
        """

    static let postgres = """
        CREATE TABLE owed_reports (
            id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id   TEXT    NOT NULL,
            address      TEXT    NOT NULL,
            status       TEXT    NOT NULL CHECK (status IN (\(statuses))),
            code         TEXT,
            reason       TEXT,
            at           BIGINT  NOT NULL,
            retrieved_at BIGINT,
            due_at       BIGINT  NOT NULL,
            attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            last_error   TEXT,
            FOREIGN KEY (message_id, address) REFERENCES document_recipients (message_id, address)
        );
        CREATE INDEX owed_reports_by_recipient ON owed_reports (message_id, address, id);
        """
}
