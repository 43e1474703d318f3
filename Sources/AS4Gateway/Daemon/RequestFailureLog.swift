import Foundation
import Synchronization

/// A full disk or a store that cannot answer fails every request while it lasts: a partner
/// pulling every second wrote two error lines a second. Request paths log such a condition as the
/// background loops log theirs (`RepeatedFailureLog`): per listener and condition, the first
/// request at once, then at most one line per `interval` saying how many requests met it since
/// the line before (`repeated=N`). The condition is named (`disk-full`, `store-unavailable`),
/// not an internal error: it is temporary and every client was told to come back.
/// One per daemon, shared by all request threads.
final class RequestFailureLog: Sendable {
    enum Condition: String, Sendable, CaseIterable {
        case diskFull = "disk-full"
        case storeUnavailable = "store-unavailable"

        /// The condition `error` is, if it is one of these.
        init?(_ error: Error) {
            if DiskFull.matches(error) {
                self = .diskFull
            } else if StoreOutage.matches(error) {
                self = .storeUnavailable
            } else {
                return nil
            }
        }
    }

    let interval: TimeInterval
    private struct State {
        var logs: [String: RepeatedFailureLog] = [:]
        /// Requests answered so, by listener and condition, for `/metrics`.
        var counts: [Key: Int] = [:]
    }
    struct Key: Hashable, Sendable {
        var listener: String
        var condition: Condition
    }
    private let state = Mutex(State())

    init(interval: TimeInterval = 60) {
        self.interval = interval
    }

    /// A request on `listener` met `condition` (`error` says how): logs one error line when one
    /// is due, with `fields` and the error as `reason`.
    func note(_ condition: Condition, listener: String, error: Error, log: EventLog, fields: [String: String?], at now: Date = Date()) {
        // One key per condition: a full disk fails SQLite's writes and payload files' writes in
        // turn, which are still the one condition, not news every other request.
        let line = state.withLock { state in
            state.counts[Key(listener: listener, condition: condition), default: 0] += 1
            return state.logs["\(listener) \(condition.rawValue)", default: RepeatedFailureLog(interval: interval)]
                .failed("\(error)", key: condition.rawValue, at: now)
        }
        guard let line else { return }
        log.log(.error, condition.rawValue, fields.merging(line) { $1 }.merging(["listener": listener]) { $1 })
    }

    /// How many requests each listener answered as refused for each condition since start.
    var counts: [Key: Int] { state.withLock { $0.counts } }
}
