import Foundation

/// Why a register lookup was made (SQLite 22, PostgreSQL 21): besides the channel lookups of the
/// systems entitled to ask, a refused submission that read the non-digital register for its
/// recipients is recorded too, since its answer told the sender who is in it. Rows written
/// before were channel lookups, which the default says.
enum ChannelLookupPurposeSchema {
    static let sql = """
        ALTER TABLE channel_lookups ADD COLUMN purpose TEXT NOT NULL DEFAULT 'lookup'
            CHECK (purpose IN ('lookup', 'refusedSubmission'));
        """
}
