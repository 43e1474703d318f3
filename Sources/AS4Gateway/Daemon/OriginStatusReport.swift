import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import Routing

/// The AS4 message id of the status report an origin access point gets about one step of a
/// recipient of a document it sent here. It is derived, not random: the id is the outbound
/// queue's unique key, so whichever path would tell the origin the same thing again finds the
/// report queued already and does not send a second one. For a `Failed` report those paths are
/// an operator's `messages retry-intake` whose intake fails once more, a hub forward that cannot
/// be queued after such a retry, a batch the mailbox worker redoes after a crash, another node
/// racing (the origin's recipient cannot go from `Failed` to `Failed`, so a second report would
/// only be refused there). For every report they are the outbox's (`OriginReports`): a report
/// queued by a request or a worker round that ended before it could mark the obligation done,
/// queued again by the next attempt.
enum OriginStatusReport {
    /// `carrier` is the AS4 message that brought the document here (`eb:RefToMessageId` of the
    /// report; the document id when none is known); the recipient is compared in canonical
    /// spelling, as the intake keeps it. A recipient reaches each reported status once, so
    /// (carrier, document, recipient, status) names one report.
    static func messageId(carrier: String, documentId: String, recipient: String, status: RecipientStatus, domain: String) throws -> String {
        let address = (try? EAddress(recipient).canonical) ?? recipient
        // Failed keeps the key it had before the other statuses were keyed too, so that a
        // report queued by an earlier release is still recognised.
        let parts = status == .failed ? [carrier, documentId, address] : [carrier, documentId, address, status.rawValue]
        // Each part with its length first: the peer writes two of them, and no separator it could
        // put inside one makes two keys hash alike.
        let key = parts.map { "\($0.utf8.count):\($0)" }.joined()
        let digest = try Digest.sha256(Data(key.utf8))
        let head = prefix(status) + InboundProcessor.hex(Array(digest.prefix(20))) + "@"
        // A receiver takes ids of at most 255 characters (ours refuses longer ones with
        // EBMS:0009): a long domain gives up its tail, the digest keeps the id unique.
        let room = EnvelopeParser.maxMessageIdLength - head.count
        return head + String(String.UnicodeScalarView(domain.unicodeScalars.prefix(room)))
    }

    private static func prefix(_ status: RecipientStatus) -> String {
        switch status {
        case .failed: return "failed-"
        case .delivered: return "delivered-"
        case .recipientAccepted: return "accepted-"
        case .recipientRejected: return "rejected-"
        default: return "status-"
        }
    }
}
