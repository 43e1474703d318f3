import CSQLite
import Foundation

extension StoreError {
    /// The store could not be reached: the PostgreSQL server refused the connection, was not
    /// there, or dropped it during the call (a restart, a failover, a network cut). Nothing is
    /// wrong with the request itself; the same call may succeed once the server is back.
    public var isUnreachable: Bool {
        if case .connectionLost = self { return true }
        return false
    }

    /// Whether the same call, made again unchanged a little later, may succeed: the store was
    /// unreachable, the disk was full, another writer held the database past the busy timeout,
    /// or PostgreSQL gave up on the transaction for a reason of the moment (serialization failure,
    /// deadlock, lock or statement timeout, too many connections, out of memory).
    ///
    /// Everything else is permanent for that call: the row is not there, not ours any more
    /// (`leaseNotHeld`), in a status the change does not apply to (`illegalTransition`), the
    /// arguments are wrong, the store is closed, or the database broke in a way that needs an
    /// operator (an I/O error, a constraint). Callers retry only transient failures.
    public var isTransient: Bool {
        switch self {
        case .connectionLost:
            return true
        case let .sqlite(code, _, _):
            // Extended result codes keep the primary code in the low byte.
            let primary = code & 0xff
            return primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL
        case let .postgres(sqlState, _, _):
            // 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available,
            // 57014 query_canceled (statement timeout), class 53 insufficient resources.
            return ["40001", "40P01", "55P03", "57014"].contains(sqlState) || sqlState.hasPrefix("53")
        case .io:
            return isOutOfSpace
        default:
            return false
        }
    }
}

/// Whether `error` is a store failure worth trying again (`StoreError.isTransient`).
public func isTransientStoreFailure(_ error: Error) -> Bool {
    (error as? StoreError)?.isTransient ?? false
}
