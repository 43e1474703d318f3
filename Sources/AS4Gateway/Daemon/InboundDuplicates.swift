import EnvelopeXML
import Foundation
import MessageStore
import Routing
import WSSecurity

/// Copies of messages received before, and ids other parties used. Duplicates are detected per
/// sending party (its `eb:From/PartyId` as the store keeps it): ids are chosen by their senders,
/// so the same MessageId from two parties names two messages, and one party using another's id
/// first must not have that party's message refused for good.
extension InboundProcessor {
    static func sendingParty(_ user: UserMessage) -> String { user.from.recordedId?.description ?? "" }

    /// The copy of `user` its sender's message within the duplicate window is, if there is one.
    func earlierCopy(of user: UserMessage, window: TimeInterval) throws -> StoredMessage? {
        let from = Self.sendingParty(user)
        return try context.store.findInbound(id: user.messageInfo.messageId).first {
            $0.metadata.fromParty == from && $0.createdAt.timeIntervalSinceNow > -window
        }
    }

    /// The refusal of an e-address document under a MessageId another party's document came
    /// under here. The mailbox knows a document's carrier by the MessageId alone (each mailbox
    /// recipient names it, uniquely; the retention purge erases carriers by it), so it cannot
    /// hold the two apart; refused before the receipt (EBMS:0003), as every id reuse was before.
    func carrierClash(_ user: UserMessage) throws -> EbmsError? {
        let document = (service: EAddressMessages.service, action: EAddressMessages.documentAction)
        guard user.collaboration.service.value == document.service, user.collaboration.action == document.action else { return nil }
        let from = Self.sendingParty(user)
        let taken = try context.store.findInbound(id: user.messageInfo.messageId).contains {
            $0.metadata.fromParty != from && $0.metadata.service == document.service && $0.metadata.action == document.action
        }
        return taken ? EbmsError(.valueInconsistent, "the MessageId already carried another access point's document here; "
                                 + "send the document under a new MessageId") : nil
    }

    /// Whether a copy of a MessageId received before carries the payloads the stored receipt
    /// acknowledged. Duplicates are detected by MessageId and sending party (AS4-WIRE §5.4) and
    /// answered with the original receipt; this only keeps an id reused for other payloads from
    /// getting it. The
    /// digests of the payload references (`cid:`) are compared, not their URIs (a sender that
    /// builds its retry again may give the parts new Content-IDs), nor the references to
    /// eb:Messaging and the Body (signed again, they get new wsu:Ids and so other digests).
    /// An unsigned copy has nothing to compare: the MessageId decides.
    /// How a copy of a message received before compares with it, judged by the references our
    /// stored receipt acknowledged and those the copy signed.
    enum DuplicateKind: Equatable {
        /// Signed the same way (or nothing signed): the stored receipt answers it.
        case identical
        /// The same payloads (digests) signed again, e.g. with new wsu:Ids or Content-IDs: a new
        /// receipt must acknowledge this copy's references, or the sender, matching the receipt's
        /// NonRepudiationInformation against what it signed (AS4 reception awareness), refuses it.
        case resigned
        /// Other payloads under the same MessageId.
        case different
    }

    func duplicateKind(_ storedReceipt: Data, _ signature: SignatureInfo?) throws -> DuplicateKind {
        guard let signature else { return .identical }
        let stored = try AS4Message.read(try MessageInput.load(bytes: [UInt8](storedReceipt), contentType: MultipartWriter.soapContentType))
        guard case .receipt(let receipt)? = stored.messaging.signals.first?.kind else { return .different }
        let acknowledgedRefs = try ReceiptValidator.references(in: receipt).map { ($0.uri, $0.digestMethod, $0.digestValue) }
        let signedRefs = signature.references.map { ($0.uri, $0.digestMethod, $0.digestValue) }
        func digests(_ refs: [(uri: String, method: String, value: [UInt8])]) -> [String] {
            refs.filter { $0.uri.hasPrefix("cid:") }.map { $0.method + " " + Data($0.value).base64EncodedString() }.sorted()
        }
        func all(_ refs: [(uri: String, method: String, value: [UInt8])]) -> [String] {
            refs.map { $0.uri + " " + $0.method + " " + Data($0.value).base64EncodedString() }.sorted()
        }
        if all(acknowledgedRefs) == all(signedRefs) { return .identical }
        return digests(acknowledgedRefs) == digests(signedRefs) ? .resigned : .different
    }

    /// The answer to a copy of a message already stored: never stored again; the stored receipt,
    /// or a new one when the copy was signed again.
    func answerDuplicate(_ message: AS4Message, original: StoredMessage, storedReceipt: Data, signature: SignatureInfo?, match: Match,
                         fields: [String: String?], started: Date) throws -> [UInt8] {
        // Only the party that sent it gets its receipt again (with an unsigned agreement there
        // are no digests to compare, and the receipt copies the message): `earlierCopy` and the
        // store's duplicate check look at that party's messages only.
        guard let user = message.messaging.userMessage, original.metadata.fromParty == Self.sendingParty(user) else {
            throw EbmsError(.valueInconsistent, "the MessageId was already received from another party")
        }
        var kind = try duplicateKind(storedReceipt, signature)
        // A new receipt acknowledges this copy's header: it must say what the stored message
        // says (parties, service, action, conversation, properties), or the sender would hold
        // proof of receipt for a message never accepted.
        if kind == .resigned, Self.metadata(user, pmode: match.pmode.id, mpc: match.leg.mpc) != original.metadata { kind = .different }
        switch kind {
        case .different:
            throw EbmsError(.valueInconsistent, "the MessageId was already received with different content")
        case .identical:
            context.log.log(.info, "duplicate", fields.merging(["status": "resent-receipt", "elapsed_ms": ms(started)]) { $1 })
            return [UInt8](storedReceipt)
        case .resigned:
            let receipt = try buildReceipt(for: message, signature: signature, security: match.leg.security)
            context.log.log(.info, "duplicate", fields.merging(["status": "new-receipt", "elapsed_ms": ms(started)]) { $1 })
            return receipt
        }
    }
}
