import EnvelopeXML
import Foundation
import MessageStore

/// Recognises "the disk is full" among the errors the daemon's writes can throw (store, payload
/// files, spool files), so that the endpoints can answer it as the temporary condition it is:
/// the submission endpoint with 507 and the AS4 endpoint with 503, both with `Retry-After`.
/// Nothing half-written is kept in either case: a failed payload write removes its file, a failed
/// SQLite or PostgreSQL transaction rolls back.
enum DiskFull {
    /// What `Retry-After` tells a client: long enough for an operator or a cleanup job to act,
    /// short enough that service resumes soon after space returns.
    static let retryAfterSeconds = 30

    static func matches(_ error: Error) -> Bool {
        switch error {
        case let e as StoreError:
            return e.isOutOfSpace
        case let e as ByteIOError:
            return e.errorNumber == ENOSPC || e.errorNumber == EDQUOT
        case let e as POSIXError:
            return e.code == .ENOSPC || e.code == .EDQUOT
        case let e as CocoaError:
            return e.code == .fileWriteOutOfSpace
        default:
            let ns = error as NSError
            return ns.domain == NSPOSIXErrorDomain && (ns.code == Int(ENOSPC) || ns.code == Int(EDQUOT))
        }
    }
}

/// A request body the HTTP server could not spool because the disk is full (its 507): reported
/// by the listener as the `disk-full` condition (`RequestFailureLog`), naming the directory an
/// operator has to free space in.
struct SpoolDiskFull: Error, CustomStringConvertible {
    var spoolDirectory: String
    var description: String { "a request body could not be spooled: the file system of \(spoolDirectory) is full (answered 507)" }
}
