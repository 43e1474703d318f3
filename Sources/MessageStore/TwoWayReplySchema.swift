import Foundation

/// The Two-Way reply migration (SQLite 17, PostgreSQL 15): the request a received reply answers,
/// unique, so a request of ours has one reply whichever node records it. The store checks first
/// to name the reply that came first; the index decides when two nodes record replies at once.
enum TwoWayReplySchema {
    /// The unique index, named so that a PostgreSQL violation of it can be told from others.
    static let indexName = "messages_reply_per_request"

    // SQLite cannot add a table constraint to an existing table; a column CHECK may name other
    // columns there. PostgreSQL wants a CHECK over several columns as a table constraint.
    static let sqlite = """
        -- The request (our outbound message id) a Two-Way reply answers: its RefToMessageId,
        -- kept only for replies (a status report naming a document also carries one, and many
        -- may name the same message). Rows stored before this migration stay NULL.
        ALTER TABLE messages ADD COLUMN answers_request TEXT
            CHECK (answers_request IS NULL OR (direction = 'in' AND answers_request = ref_to_message_id));
        \(index)
        """

    static let postgres = """
        -- As SQLite's migration 17.
        ALTER TABLE messages ADD COLUMN answers_request TEXT;
        ALTER TABLE messages ADD CONSTRAINT messages_answers_request_check
            CHECK (answers_request IS NULL OR (direction = 'in' AND answers_request = ref_to_message_id));
        \(index)
        """

    private static let index = "CREATE UNIQUE INDEX \(indexName) ON messages (answers_request) WHERE answers_request IS NOT NULL;"
}
