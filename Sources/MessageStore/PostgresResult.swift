import CLibPQ
import Foundation

/// A value bound to a `$n` parameter. Values travel in PostgreSQL's text form, except bytes
/// (bytea), which go in binary so that they need no escaping. Dates are integer milliseconds since
/// 1970, as in the SQLite schema, so both backends round dates the same way.
protocol PostgresBindable {
    var postgresParameter: PostgresParameter { get }
}

enum PostgresParameter: Equatable {
    case text(String)
    case binary(Data)
}

extension String: PostgresBindable {
    var postgresParameter: PostgresParameter { .text(self) }
}

extension Int: PostgresBindable {
    var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Int64: PostgresBindable {
    var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Data: PostgresBindable {
    var postgresParameter: PostgresParameter { .binary(self) }
}

extension Date: PostgresBindable {
    var postgresParameter: PostgresParameter { .text(String(storeMilliseconds)) }
}

extension Direction: PostgresBindable {
    var postgresParameter: PostgresParameter { .text(rawValue) }
}

extension MessageStatus: PostgresBindable {
    var postgresParameter: PostgresParameter { .text(rawValue) }
}

/// A `text[]` or `bigint[]` parameter, in PostgreSQL's array literal syntax (every element quoted,
/// so any text is safe): lets one statement handle a batch of rows.
struct PostgresArray: PostgresBindable {
    let elements: [String?]

    init(_ elements: [String?]) { self.elements = elements }
    init(_ numbers: [Int64]) { elements = numbers.map { String($0) } }

    var postgresParameter: PostgresParameter {
        let items = elements.map { element -> String in
            guard let element else { return "NULL" }
            var quoted = "\""
            for character in element {
                if character == "\"" || character == "\\" { quoted.append("\\") }
                quoted.append(character)
            }
            return quoted + "\""
        }
        return .text("{" + items.joined(separator: ",") + "}")
    }
}

/// Owns one `PGresult` (freed in deinit) of a statement that succeeded. Values are read in text
/// form by column name.
final class PostgresResult {
    private let handle: OpaquePointer
    let sql: String
    private lazy var columnIndex: [String: Int32] = {
        var map: [String: Int32] = [:]
        for i in 0..<PQnfields(handle) { map[String(cString: PQfname(handle, i))] = i }
        return map
    }()

    init(handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.sql = sql
    }

    deinit { PQclear(handle) }

    var count: Int { Int(PQntuples(handle)) }

    /// Rows an INSERT, UPDATE or DELETE changed.
    var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    var rows: [PostgresRow] { (0..<count).map { PostgresRow(result: self, index: Int32($0)) } }

    var first: PostgresRow? { count > 0 ? PostgresRow(result: self, index: 0) : nil }

    fileprivate func index(of column: String) -> Int32 {
        guard let index = columnIndex[column] else { preconditionFailure("no column \(column) in: \(sql)") }
        return index
    }

    fileprivate func text(row: Int32, column: String) -> String? {
        let i = index(of: column)
        guard PQgetisnull(handle, row, i) == 0, let value = PQgetvalue(handle, row, i) else { return nil }
        let length = Int(PQgetlength(handle, row, i))
        return value.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

/// One row of a `PostgresResult`, read by column name.
struct PostgresRow {
    let result: PostgresResult
    let index: Int32

    func optionalString(_ column: String) -> String? { result.text(row: index, column: column) }

    func string(_ column: String) -> String { optionalString(column) ?? "" }

    func optionalInt64(_ column: String) -> Int64? { optionalString(column).flatMap { Int64($0) } }

    func int64(_ column: String) -> Int64 { optionalInt64(column) ?? 0 }

    func int(_ column: String) -> Int { Int(int64(column)) }

    func date(_ column: String) -> Date { Date(storeMilliseconds: int64(column)) }

    func optionalDate(_ column: String) -> Date? { optionalInt64(column).map(Date.init(storeMilliseconds:)) }

    /// A bytea column, which the server sends as `\x` and hex digits.
    func optionalData(_ column: String) -> Data? {
        guard let text = optionalString(column) else { return nil }
        let digits = Array(text.utf8.dropFirst(2))
        var bytes = Data(capacity: digits.count / 2)
        var i = 0
        while i + 1 < digits.count {
            bytes.append(Self.nibble(digits[i]) << 4 | Self.nibble(digits[i + 1]))
            i += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8 {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: digit &- UInt8(ascii: "A") &+ 10
        }
    }
}
