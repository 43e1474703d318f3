import CSQLite
import Foundation

/// Everything the store can refuse or fail with. SQLite and PostgreSQL failures keep the database's
/// own message and the statement that failed, so a log line is enough to diagnose them.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// SQLite returned `code` (an extended result code) with `message`; `sql` is the statement, if any.
    case sqlite(code: Int32, message: String, sql: String?)
    /// PostgreSQL refused a statement with SQLSTATE `sqlState` and `message`; `sql` is the statement.
    case postgres(sqlState: String, message: String, sql: String?)
    /// The PostgreSQL server could not be reached, or the connection broke during the call. The
    /// call's transaction was rolled back, except when the break came during COMMIT: then its
    /// outcome is unknown (the message says so). The next call opens a new connection.
    case connectionLost(String)
    /// A file-system call failed (`operation` is the call, `errno` its error number).
    case io(operation: String, path: String, errno: Int32)
    /// No message with that id in that direction.
    case notFound(messageId: String, direction: Direction)
    /// The requested status change is not in the state machine (see `MessageStatus.allows`).
    case illegalTransition(messageId: String, from: MessageStatus, to: MessageStatus)
    /// The caller is not the current lease owner of a message in `Sending`.
    case leaseNotHeld(messageId: String, owner: String?, holder: String?)
    /// An outbound message with this id already exists (outbound ids are unique).
    case duplicateMessageId(String)
    /// A Two-Way reply to a request that already has one (`replyId`, recorded before): a request
    /// is answered once.
    case requestAlreadyAnswered(requestId: String, replyId: String)
    /// A value given to the store is unusable (empty id, non-positive limit, …).
    case invalidArgument(String)
    /// The database was written by a newer build: it has migrations this build does not know.
    case schemaTooNew(found: Int, supported: Int)
    /// The database lacks migrations this build needs, and the store was opened without migrating
    /// (`SchemaAccess.existing`): `as4gw serve` or `as4gw store migrate` of this build upgrades it.
    case schemaTooOld(found: Int, required: Int)
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case let .sqlite(code, message, sql):
            let name = String(cString: sqlite3_errstr(code))
            return "SQLite error \(code) (\(name)): \(message)" + (sql.map { " [in: \($0)]" } ?? "")
        case let .postgres(sqlState, message, sql):
            return "PostgreSQL error \(sqlState): \(message)" + (sql.map { " [in: \($0)]" } ?? "")
        case let .connectionLost(message):
            return "PostgreSQL connection lost: \(message)"
        case let .io(operation, path, errno):
            return "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case let .notFound(messageId, direction):
            return "no \(direction.rawValue)bound message with id \(messageId)"
        case let .illegalTransition(messageId, from, to):
            return "message \(messageId): illegal status change \(from.rawValue) → \(to.rawValue)"
        case let .leaseNotHeld(messageId, owner, holder):
            return "message \(messageId): lease held by \(holder ?? "nobody"), not by \(owner ?? "an anonymous caller")"
        case let .duplicateMessageId(messageId):
            return "an outbound message with id \(messageId) already exists"
        case let .requestAlreadyAnswered(requestId, replyId):
            return "request \(requestId) was already answered by message \(replyId)"
        case let .invalidArgument(reason):
            return "invalid argument: \(reason)"
        case let .schemaTooNew(found, supported):
            return "database schema version \(found) is newer than this build supports (\(supported))"
        case let .schemaTooOld(found, required):
            let held = found == 0 ? "the database holds no as4gw schema yet (this build's is version \(required))"
                : "database schema version \(found) is older than this build needs (\(required))"
            return held + "; this command does not migrate it: `as4gw store migrate` (or `as4gw serve`) of this build does "
                + "(with several nodes, see docs/CONFIG.md#upgrading-several-nodes)"
        case .closed:
            return "the message store is closed"
        }
    }
}

extension StoreError {
    /// The words `PostgresConnection.transaction` adds to a connection lost during COMMIT.
    static let commitOutcomeUnknown = "during COMMIT: the transaction may or may not have committed"

    /// Whether the write that threw this may have been committed all the same: a PostgreSQL
    /// connection lost during COMMIT, or a WAL fsync that failed after SQLite's COMMIT. What the
    /// write referred to (payload files, the sealed message) must then stay where it is: a
    /// stored row naming a removed file would lose an accepted message.
    public var mayHaveCommitted: Bool {
        switch self {
        case .connectionLost(let message): return message.contains(Self.commitOutcomeUnknown)
        case .io(_, let path, _): return path.hasSuffix("-wal")
        default: return false
        }
    }
}

/// Whether `error` leaves it open that the write committed (`StoreError.mayHaveCommitted`).
public func mayHaveCommitted(_ error: Error) -> Bool {
    (error as? StoreError)?.mayHaveCommitted ?? false
}
