import CSQLite
import Foundation

extension StoreError {
    /// True when the failure is the disk (or the user's quota) being full: SQLite's
    /// `SQLITE_FULL`, PostgreSQL's class 53 `disk_full`, or ENOSPC/EDQUOT from a file call.
    /// Such a failure is temporary, unlike the others: callers answer "try again later" instead
    /// of a hard error, and nothing was recorded (the transaction rolled back, the file was removed).
    public var isOutOfSpace: Bool {
        switch self {
        case let .sqlite(code, _, _):
            // Extended result codes keep the primary code in the low byte.
            return code & 0xff == SQLITE_FULL
        case let .postgres(sqlState, _, _):
            return sqlState == "53100"
        case let .io(_, _, errno):
            return errno == ENOSPC || errno == EDQUOT
        default:
            return false
        }
    }
}
