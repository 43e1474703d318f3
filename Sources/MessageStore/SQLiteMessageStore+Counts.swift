import Foundation

extension SQLiteMessageStore {
    public func messageCounts() throws -> [MessageCount] {
        let rows = try withConnection { c in
            try c.query("SELECT direction, status, COUNT(*) AS n FROM messages GROUP BY direction, status ORDER BY direction, status") {
                ($0.string("direction"), $0.string("status"), $0.int("n"))
            }
        }
        return try rows.map { direction, status, n in
            // The CHECK constraints admit only known values; anything else was written by another program.
            guard let d = Direction(rawValue: direction), let s = MessageStatus(rawValue: status) else {
                throw StoreError.invalidArgument("unknown direction or status \(direction)/\(status) in the database")
            }
            return MessageCount(direction: d, status: s, count: n)
        }
    }
}
