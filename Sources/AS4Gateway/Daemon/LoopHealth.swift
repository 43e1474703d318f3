import Foundation
import Synchronization

/// Since when a background loop has been failing without a round that worked, shared between
/// the loop's thread (which reports each round) and `/readyz` (which reads it). A loop that
/// only logs its failures once a minute would otherwise leave a node "ready" that takes in
/// nothing it receives.
final class LoopHealth: Sendable {
    private let state = Mutex<(since: Date, reason: String)?>(nil)

    func failed(_ reason: String, at now: Date = Date()) {
        state.withLock { s in s = (s?.since ?? now, reason) }
    }

    func succeeded() {
        state.withLock { $0 = nil }
    }

    /// When the failures began and the latest reason; nil while the loop works.
    var failing: (since: Date, reason: String)? { state.withLock { $0 } }
}
