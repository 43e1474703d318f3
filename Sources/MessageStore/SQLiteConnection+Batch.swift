/// Batch reads by key lists: `IN (?, ?, …)` over slices of bound parameters. Binding is cheap
/// and each slice's statement is prepared once (the text depends only on the slice's size), where
/// a JSON array parameter cost more in encoding and `json_each` than the lookup itself.
extension SQLiteConnection {
    static let batchSlice = 500

    /// Runs `template` once per slice of `keys`, with `{keys}` replaced by that slice's
    /// placeholders; `arguments` are bound after the slice's keys. Rows of all slices, in slice order.
    func query<T>(_ template: String, keys: [String], arguments: [(any SQLBindable)?] = [], row: (SQLiteStatement) throws -> T) throws -> [T] {
        var rows: [T] = []
        var start = keys.startIndex
        while start < keys.endIndex {
            let end = min(start + Self.batchSlice, keys.endIndex)
            let placeholders = String(repeating: "?,", count: end - start - 1) + "?"
            let sql = template.replacingOccurrences(of: "{keys}", with: placeholders)
            rows += try query(sql, keys[start..<end].map { $0 as (any SQLBindable)? } + arguments, row: row)
            start = end
        }
        return rows
    }
}
