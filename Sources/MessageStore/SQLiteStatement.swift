import CSQLite
import Foundation

/// A value that can be bound to a `?` parameter. Dates are stored as integer milliseconds since
/// 1970 (UTC), so every date read back from the store has millisecond precision.
protocol SQLBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32
}

extension String: SQLBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_text(statement, index, self, -1, as4gw_sqlite_transient())
    }
}

extension Int64: SQLBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_int64(statement, index, self)
    }
}

extension Int: SQLBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_int64(statement, index, Int64(self))
    }
}

extension Data: SQLBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        withUnsafeBytes { raw in
            // A zero-length blob must still be a blob, not NULL: bind_zeroblob gives that.
            guard let base = raw.baseAddress, !raw.isEmpty else { return sqlite3_bind_zeroblob(statement, index, 0) }
            return sqlite3_bind_blob64(statement, index, base, sqlite3_uint64(raw.count), as4gw_sqlite_transient())
        }
    }
}

extension Date: SQLBindable {
    /// Milliseconds since 1970, rounded to the nearest millisecond.
    var storeMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    init(storeMilliseconds: Int64) { self.init(timeIntervalSince1970: Double(storeMilliseconds) / 1000) }

    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_int64(statement, index, storeMilliseconds)
    }
}

extension Direction: SQLBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 { rawValue.bind(to: statement, at: index) }
}

extension MessageStatus: SQLBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 { rawValue.bind(to: statement, at: index) }
}

/// One prepared statement. Owned by `SQLiteConnection` (which caches it by SQL text); reset and
/// unbound after every use so a cached statement never holds a read transaction open.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    private unowned let connection: SQLiteConnection
    private lazy var columnIndex: [String: Int32] = {
        var map: [String: Int32] = [:]
        for i in 0..<sqlite3_column_count(handle) {
            map[String(cString: sqlite3_column_name(handle, i))] = i
        }
        return map
    }()

    init(handle: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    func finalize() { sqlite3_finalize(handle) }

    func bind(_ arguments: [(any SQLBindable)?]) throws {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard arguments.count == expected else {
            throw StoreError.invalidArgument("statement takes \(expected) parameters, got \(arguments.count): \(sql)")
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let rc = argument.map { $0.bind(to: handle, at: index) } ?? sqlite3_bind_null(handle, index)
            guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
        }
    }

    /// Steps once: true when a row is available, false when the statement is done.
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw connection.error(rc, sql: sql)
        }
    }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Columns of the current row, by name (the names of the SELECT list).

    func index(of column: String) -> Int32 {
        guard let index = columnIndex[column] else { preconditionFailure("no column \(column) in: \(sql)") }
        return index
    }

    func isNull(_ column: String) -> Bool { sqlite3_column_type(handle, index(of: column)) == SQLITE_NULL }

    func int64(_ column: String) -> Int64 { sqlite3_column_int64(handle, index(of: column)) }

    func optionalInt64(_ column: String) -> Int64? { isNull(column) ? nil : int64(column) }

    func int(_ column: String) -> Int { Int(int64(column)) }

    func string(_ column: String) -> String { optionalString(column) ?? "" }

    func optionalString(_ column: String) -> String? { optionalString(at: index(of: column)) }

    func optionalString(at i: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, i) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func optionalData(_ column: String) -> Data? {
        let i = index(of: column)
        guard sqlite3_column_type(handle, i) != SQLITE_NULL else { return nil }
        let count = Int(sqlite3_column_bytes(handle, i))
        guard count > 0, let bytes = sqlite3_column_blob(handle, i) else { return Data() }
        return Data(bytes: bytes, count: count)
    }

    func date(_ column: String) -> Date { Date(storeMilliseconds: int64(column)) }

    func optionalDate(_ column: String) -> Date? { optionalInt64(column).map(Date.init(storeMilliseconds:)) }
}
