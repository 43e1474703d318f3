import AS4Crypto
import Foundation
import Routing

/// The AS4 message id of the one `Failed` status report an origin access point gets about a
/// recipient of a document it sent here. It is derived, not random: the id is the outbound
/// queue's unique key, so whichever path would tell the origin again that the recipient failed
/// (an operator's `messages retry-intake` whose intake fails once more, a hub forward that
/// cannot be queued after such a retry, a batch the mailbox worker redoes after a crash, another
/// node racing) finds the report queued already and does not send a second one. The origin's
/// recipient cannot go from `Failed` to `Failed`, so a second report would only be refused there.
enum OriginFailedReport {
    /// `carrier` is the AS4 message that brought the document here (`eb:RefToMessageId` of the
    /// report); the recipient is compared in canonical spelling, as the intake keeps it.
    static func messageId(carrier: String, documentId: String, recipient: String, domain: String) throws -> String {
        let address = (try? EAddress(recipient).canonical) ?? recipient
        // Each part with its length first: the peer writes two of them, and no separator it could
        // put inside one makes two triples hash alike.
        let key = [carrier, documentId, address].map { "\($0.utf8.count):\($0)" }.joined()
        let digest = try Digest.sha256(Data(key.utf8))
        return "failed-" + InboundProcessor.hex(Array(digest.prefix(20))) + "@" + domain
    }
}
