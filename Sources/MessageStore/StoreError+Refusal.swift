import CSQLite
import Foundation

extension StoreError {
    /// Whether the store refused the values of this one call: a constraint, a value of the wrong
    /// type, a value too large for its column or index, an argument it does not
    /// take. Made again unchanged, the call fails the same way, but other calls with other values
    /// go through: unlike an I/O error, a closed store or a schema it does not know (permanent
    /// for every call), it says something about the row, not about the store. The mailbox
    /// worker sets aside a received message whose intake keeps meeting one (`IntakeStrikes`)
    /// instead of holding every later message behind it.
    public var refusesValues: Bool {
        switch self {
        case let .sqlite(code, _, _):
            // Extended result codes keep the primary code in the low byte. (SQLITE_RANGE is not
            // one: a bind index out of range fails every call of that statement.)
            let primary = code & 0xff
            return primary == SQLITE_CONSTRAINT || primary == SQLITE_TOOBIG || primary == SQLITE_MISMATCH
        case let .postgres(sqlState, _, _):
            // Class 22 data exception, 23 integrity constraint violation, 54 program limit
            // exceeded (a row or an index entry too large).
            return ["22", "23", "54"].contains(String(sqlState.prefix(2)))
        case .invalidArgument, .duplicateMessageId:
            return true
        default:
            return false
        }
    }
}
