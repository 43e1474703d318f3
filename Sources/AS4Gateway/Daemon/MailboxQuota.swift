import EnvelopeXML
import Foundation
import MessageStore
import Routing

/// The mailbox size limit of an address (the directory's `mailboxBytes`): what its mailbox holds
/// (the files of every document in it, until purged) plus a new document may not exceed it.
/// Read from the store at each check, so a limit changed at run time applies to the next
/// message on every node. Two documents checked at the same moment may both pass: the limit is
/// exact for one message at a time.
struct MailboxQuota {
    let context: GatewayContext

    /// The outcome name of a refused recipient (API and AS4 status reports).
    static let outcome = "mailboxFull"

    /// Why `address`'s mailbox cannot take `size` more bytes; nil when it can (or has no limit).
    func refusal(for address: String, adding size: Int) throws -> String? {
        guard let record = try context.addresses.record(for: address), let limit = record.mailboxBytes else { return nil }
        let used = try context.retention.mailboxBytes(address: address)
        guard used + Int64(size) > Int64(limit) else { return nil }
        return "the mailbox of \(address) holds \(used) of its \(limit) bytes; a message of \(size) bytes would exceed it"
    }

    /// An e-address document arriving by AS4 for a mailbox here that is over the address's
    /// message limit or would overflow its mailbox: refused before the receipt with `EBMS:0004`
    /// (severity failure), so the sending gateway marks it Failed with this reason. Anything
    /// else about the document (unknown address, forwarding) is judged after the receipt, as before.
    func checkArrival(_ user: UserMessage, parts: [MessagePart]) throws {
        guard user.collaboration.service.value == EAddressMessages.service, user.collaboration.action == EAddressMessages.documentAction,
              let recipient = user.finalRecipient, let address = try? EAddress(recipient) else { return }
        // The first part is the document's JSON header; the rest are its files.
        let size = Int(parts.dropFirst().reduce(Int64(0)) { $0 + $1.file.size })
        // A directory entry that cannot be routed on is judged after the receipt, as before.
        guard let decision = try? context.router.route(to: address, from: user.originalSender.flatMap { try? EAddress($0) }, size: size, at: Date()) else {
            return
        }
        switch decision {
        case .tooLarge:
            throw EbmsError(.other, "e-address document refused (tooLarge): \(decision.reason)")
        case .localMailbox:
            if let reason = try refusal(for: address.canonical, adding: size) {
                throw EbmsError(.other, "e-address document refused (\(Self.outcome)): \(reason)")
            }
        default:
            return
        }
    }
}
