import EnvelopeXML
import Foundation
import Synchronization

/// Refuses a signed request seen before (by its eb:MessageId) or stamped outside the clock skew:
/// a captured PullRequest must not hand out the next message to whoever replays it
/// (AS4-WIRE §7.5). Ids are kept for the skew window, after which the timestamp check refuses
/// the replay on its own.
final class ReplayGuard: Sendable {
    let skew: TimeInterval
    private let seen = Mutex<[String: Date]>([:])

    init(skew: TimeInterval = 300) {
        self.skew = skew
    }

    func admit(_ info: MessageInfo, now: Date = Date()) throws(EbmsError) {
        let age = now.timeIntervalSince(info.timestamp.date)
        guard abs(age) <= skew else {
            throw EbmsError(.valueInconsistent, "eb:Timestamp \(info.timestamp.lexical) is outside the accepted clock skew of \(Int(skew)) s")
        }
        let fresh = seen.withLock { ids -> Bool in
            if ids.count > 10_000 { ids = ids.filter { now.timeIntervalSince($0.value) <= 2 * skew } }
            guard ids[info.messageId] == nil else { return false }
            ids[info.messageId] = now
            return true
        }
        guard fresh else { throw EbmsError(.valueInconsistent, "the request \(info.messageId) was already received (replay)") }
    }
}
