import Foundation
import Synchronization

/// A second connection to a node's `messages.sqlite` for the stores that live beside the
/// messages (directory, mailboxes), so one backup holds them all. It keeps SQLite's default
/// `synchronous = FULL`: these stores have no group commit, so each write fsyncs before it
/// returns. One caller at a time uses the connection.
final class SQLiteDatabaseConnection: Sendable {
    let databasePath: String
    private let connection: Mutex<SQLiteConnection?>

    /// Opens (creating if needed) the database in `dataDirectory` and applies pending migrations.
    init(dataDirectory: String, now: Date) throws {
        let directory = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        try PayloadDirectory.makeDirectoryTree(directory)
        databasePath = directory + "/messages.sqlite"
        let opened = try SQLiteConnection(path: databasePath)
        try Schema.migrate(opened, at: now)
        connection = Mutex(opened)
    }

    /// Releases the connection; later calls throw `StoreError.closed`. Idempotent.
    func close() {
        connection.withLock { c in
            c?.close()
            c = nil
        }
    }

    func withConnection<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try connection.withLock { c throws -> T in
            guard let c else { throw StoreError.closed }
            return try body(c)
        }
    }
}
