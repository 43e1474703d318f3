import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore

/// What makes two failures of a background loop the same one for `RepeatedFailureLog`: the
/// kind of error and its error number or code, without the path, statement or message that
/// name this round's particulars. A full disk fails every round on a new random payload file
/// name; compared by their text, no two rounds were alike and each was logged.
enum FailureKey {
    static func of(_ error: Error) -> String {
        switch error {
        case let e as StoreError:
            switch e {
            case let .io(operation, _, errno): return "store \(operation): errno \(errno)"
            case let .sqlite(code, _, _): return "sqlite \(code)"
            case let .postgres(sqlState, _, _): return "postgres \(sqlState)"
            case .connectionLost: return "postgres connection lost"
            default: return e.description
            }
        case let e as HTTPClientError:
            // A partner down: curl's message names the milliseconds waited, the kind does not.
            switch e {
            case .connectionFailed: return "http connection failed"
            case .timedOut: return "http timed out"
            case .tls: return "http TLS"
            case .responseTooLarge: return "http response too large"
            case .requestBodyUnreadable: return "http request body unreadable"
            case .other(let detail): return "http " + detail
            }
        case let e as ByteIOError:
            return "\(e.operation): errno \(e.errorNumber)"
        case let e as POSIXError:
            return "posix errno \(e.code.rawValue)"
        case let e as CocoaError:
            let underlying = (e.userInfo[NSUnderlyingErrorKey] as? NSError).map { " errno \($0.code)" } ?? ""
            return "cocoa \(e.code.rawValue)\(underlying)"
        default:
            return "\(error)"
        }
    }
}
