import EnvelopeXML
import Foundation
import MessageStore
import Routing

/// An e-address document names its recipient twice: in its carrier's `finalRecipient` property,
/// on which the checks before the receipt route (`MailboxQuota`), and in its JSON header, by
/// which it is placed after the receipt (`DocumentExchange.takeDocument`). When the two differ
/// the receipt would vouch for one mailbox while the document lands in another, or fails where
/// the sender already holds proof of delivery; so such a document is refused before the receipt.
///
/// One AS4 message carries a document to one recipient (the header has one `recipient`; another
/// recipient of the same document comes in a message of its own), so the rule is equality, in
/// the canonical spelling the intake keeps addresses in.
struct DocumentRecipientCheck {
    let context: GatewayContext

    /// Refuses with `EBMS:0003` an `EAddressDocument` whose header names another recipient than
    /// its `finalRecipient`. A message without `finalRecipient`, or whose first payload is not a
    /// document header, is left to the intake as before: there is nothing to compare.
    func checkArrival(_ user: UserMessage, parts: [MessagePart]) throws {
        guard user.collaboration.service.value == EAddressMessages.service, user.collaboration.action == EAddressMessages.documentAction,
              let finalRecipient = user.finalRecipient, let first = parts.first else { return }
        let contents = try DocumentExchange(context: context).contents(of: first)
        guard let header = try? EAddressMessages.decode(EAddressMessages.DocumentHeader.self, from: contents) else { return }
        guard Self.canonical(header.recipient) != Self.canonical(finalRecipient) else { return }
        // Both values as the sender wrote them, so it can find its mistake; the log masks personal
        // codes in the reason as in every field (EventLog).
        throw EbmsError(.valueInconsistent,
                        "the document header names recipient \(header.recipient), but eb:MessageProperties finalRecipient is \(finalRecipient)")
    }

    /// The spelling the intake keeps an address in; a text that is no e-address stays as it is.
    static func canonical(_ address: String) -> String {
        (try? EAddress(address).canonical) ?? address
    }
}
