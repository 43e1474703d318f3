import Foundation
import MessageStore

/// Recognises "the store cannot answer now" among the errors a request can end with: the
/// PostgreSQL server refused or dropped the connection (a restart, a failover), or the database
/// was busy or gave up the transaction for a reason of the moment (`StoreError.isTransient`).
/// Every listener answers it as the temporary condition it is, 503 with `Retry-After`, so that
/// clients and AS4 senders try again instead of giving the message up. A full disk is also
/// transient but has answers of its own (`DiskFull`: 507 to submissions).
enum StoreOutage {
    /// What `Retry-After` tells a client: a PostgreSQL restart or failover is over in seconds,
    /// and a sender coming back soon does not wait longer than the outage.
    static let retryAfterSeconds = 10

    static func matches(_ error: Error) -> Bool {
        guard let e = error as? StoreError else { return false }
        return e.isTransient && !e.isOutOfSpace
    }
}
