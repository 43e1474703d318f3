import CSQLite
import Foundation

/// Thin owner of one `sqlite3*`: open + pragmas, cached prepared statements, typed errors that
/// carry SQLite's message, and `BEGIN IMMEDIATE` transactions.
///
/// Not thread-safe by itself on the Swift side (the statement cache is a plain dictionary):
/// `SQLiteMessageStore` only touches it while holding its lock. The handle is opened with
/// `SQLITE_OPEN_FULLMUTEX` as well, so SQLite's own state is serialized regardless.
final class SQLiteConnection {
    let path: String
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]

    struct Settings {
        var busyTimeout: TimeInterval = 10
    }

    init(path: String, settings: Settings = Settings()) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw StoreError.sqlite(code: rc, message: message, sql: nil)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        do {
            sqlite3_busy_timeout(db, Int32(min(settings.busyTimeout * 1000, Double(Int32.max))))
            let mode = try pragma("journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw StoreError.sqlite(code: SQLITE_ERROR, message: "journal_mode stayed \(mode ?? "unknown"), wanted wal", sql: nil)
            }
            // FULL until the owner says otherwise: the store lowers it to NORMAL once its group
            // commit is in place (see `SQLiteMessageStore`).
            try pragma("synchronous = FULL")
            try pragma("foreign_keys = ON")
            // INSERT OR REPLACE deletes the row it replaces; only with this do DELETE triggers
            // (retention, legal holds) judge that delete.
            try pragma("recursive_triggers = ON")
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    var isOpen: Bool { handle != nil }

    /// Finalizes every cached statement and closes the handle. Idempotent.
    func close() {
        for statement in statements.values { statement.finalize() }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    func error(_ rc: Int32, sql: String?) -> StoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return .sqlite(code: rc, message: message, sql: sql)
    }

    private func db() throws -> OpaquePointer {
        guard let handle else { throw StoreError.closed }
        return handle
    }

    // MARK: Statements

    /// A prepared statement for `sql`, from the cache when this text was prepared before.
    func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let db = try db()
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(rc, sql: sql) }
        let statement = SQLiteStatement(handle: raw, sql: sql, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Runs one statement to completion (INSERT/UPDATE/DELETE or a statement whose rows are ignored).
    func run(_ sql: String, _ arguments: [(any SQLBindable)?] = []) throws {
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        while try statement.step() {}
    }

    /// Runs a query and maps every row.
    func query<T>(_ sql: String, _ arguments: [(any SQLBindable)?] = [], row: (SQLiteStatement) throws -> T) throws -> [T] {
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        var rows: [T] = []
        while try statement.step() { rows.append(try row(statement)) }
        return rows
    }

    /// The first row of a query, if any.
    func queryFirst<T>(_ sql: String, _ arguments: [(any SQLBindable)?] = [], row: (SQLiteStatement) throws -> T) throws -> T? {
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        return try statement.step() ? try row(statement) : nil
    }

    /// Runs a script of several statements (no parameters, nothing cached): migrations.
    func execute(script: String) throws {
        let db = try db()
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, script, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw StoreError.sqlite(code: rc, message: text, sql: script)
        }
    }

    /// `PRAGMA <assignment>`; returns the first column of the first row it answers, if any.
    @discardableResult
    func pragma(_ assignment: String) throws -> String? {
        try queryFirst("PRAGMA \(assignment)") { $0.optionalString(at: 0) } ?? nil
    }

    var changes: Int { handle.map { Int(sqlite3_changes64($0)) } ?? 0 }

    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    // MARK: Transactions

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back when it throws.
    ///
    /// How durable the commit is depends on the `synchronous` level the owner set: FULL fsyncs
    /// the WAL at COMMIT; under NORMAL the owner makes it durable afterwards (`WALGroupSync`).
    ///
    /// IMMEDIATE takes the write lock up front (waiting up to `busy_timeout` for another
    /// connection or process), so a read-then-write sequence inside `body` cannot interleave with
    /// another writer: this is what makes claims and duplicate checks atomic across connections.
    func immediateTransaction<T>(_ body: () throws -> T) throws -> T {
        let db = try db()
        guard sqlite3_get_autocommit(db) != 0 else {
            throw StoreError.invalidArgument("nested transaction")
        }
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(db) == 0 { try? run("ROLLBACK") }
            throw error
        }
    }
}
