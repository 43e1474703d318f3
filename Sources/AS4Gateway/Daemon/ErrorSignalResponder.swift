import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import Routing
import WSSecurity

/// An ebMS error signal posted to us as a request of its own, not on the back-channel of a
/// message we sent: a puller's error about a message it pulled from us, or a receiver that
/// reports its errors asynchronously (a Domibus agreement with errorAsResponse=false; eDelivery
/// forbids it, AS4-WIRE §1.8, but such errors are still that receiver's word on our message).
///
/// The signal must be signed by a party of ours, and an error about one of our messages by the
/// party that message went to; only an agreement without signing lets an unsigned one through,
/// for the messages sent under it, and then from that party's TLS client certificate where the
/// listener asks for one and the P-Modes list that party's (`TLSClientBinding`). A failure then fails a message not yet Delivered with the
/// receiver's code (`MessageStore.recordAttemptError`, `OutboundLateError`) and is kept beside
/// the receipt of a Delivered one, whose status and evidence stay. Warnings, errors about ids we
/// never sent, and errors that name no message are logged. Each is answered with an empty 200:
/// a signal is not answered with another one (no ebMS message goes back on its back-channel).
struct ErrorSignalResponder {
    let context: GatewayContext
    /// Where the request came from, for the lines that refuse it (`InboundProcessor.client`).
    var client: String? = nil

    /// `clientCertificate`: the TLS client certificate the signal came with, which must be the
    /// receiver's for an unsigned one where the P-Modes list that party's (`TLSClientBinding`).
    func accept(_ signal: SignalMessage, _ message: AS4Message, started: Date, clientCertificate: Certificate? = nil) -> HTTPResponse {
        guard case .errors(let errors) = signal.kind, let first = errors.first else {
            return processor.errorResponse(EbmsError(.other, "not an error signal"), refTo: nil, started: started)
        }
        // The error that says most: a failure before any warning beside it.
        let error = errors.first { $0.severity.lowercased() != "warning" } ?? first
        let ref = signal.messageInfo.refToMessageId ?? error.refToMessageInError
        // In the words a pushed message's error is kept in (ReceiptValidator): the receiver's
        // eb:Description says what is wrong, and the sender's DMS is told it, with the
        // receiver's own code (`PeerErrorCode`) on one line, each text cut as `ReceiverAnswer.words` cuts it.
        let code = PeerErrorCode(error.errorCode)
        let line = { (text: String?) in String(PeerErrorCode.oneLine(text ?? "").prefix(500)) }
        let said = line(error.description?.text ?? error.detail)
        let reason = "the receiver answered \(code.shown) \(line(error.shortDescription))" + (said.isEmpty ? "" : ": \(said)")
        var fields: [String: String?] = ["message_id": ref, "signal_id": signal.messageInfo.messageId, "error_code": code.recorded,
                                         "reason": reason]
        do {
            let stored = try ref.flatMap { try context.store.findMessage(id: $0, direction: .outbound) }
            let signer = try authenticate(message, about: stored)
            fields["from"] = signer?.name
            guard let stored, let out = stored.outbound else {
                context.log.log(.info, error.severity.lowercased() == "warning" ? "peer-warning" : "peer-error",
                                fields.merging(["status": ref == nil ? "no RefToMessageId" : "no such message of ours",
                                                "elapsed_ms": ms(started)]) { $1 })
                return .empty(200)
            }
            fields["to"] = partyValue(stored.metadata.toParty)
            // Only the party the message went to knows of it.
            if let signer, !signer.partyIds.map(\.description).contains(stored.metadata.toParty) {
                throw EbmsError(.failedAuthentication, "the error is not signed by the party \(ref ?? "") was sent to")
            }
            // Unsigned: the TLS client certificate is all that can say so, where it is asked for.
            if signer == nil, let receiver = context.registry.current.parties.first(where: { $0.partyIds.map(\.description).contains(stored.metadata.toParty) }),
               let refusal = TLSClientBinding(context: context).refusal(clientCertificate, for: receiver, sending: "the error signal") {
                throw refusal
            }
            // An attempt before an operator's retry counts: the receiver's error may answer it.
            let sent = try stored.wentOut { try context.store.events(for: stored.rowId) }
            let owner: String
            if out.pullMPC != nil {
                owner = try pullOwner(stored, out, sent: sent)
            } else {
                guard sent else {
                    context.log.log(.info, "peer-error", fields.merging(["status": "not sent yet", "elapsed_ms": ms(started)]) { $1 })
                    return .empty(200)
                }
                owner = PushedErrorSignal.owner(party: signer?.name ?? partyValue(stored.metadata.toParty))
            }
            if error.severity.lowercased() == "warning" {
                context.log.log(.info, "peer-warning", fields.merging(["status": stored.status.rawValue, "elapsed_ms": ms(started)]) { $1 })
                return .empty(200)
            }
            let reached = try context.store.recordAttemptError(messageId: stored.metadata.messageId, owner: owner,
                                                               error: DeliveryError(code: code.recorded, reason: reason), at: Date())
            let late = out.pullMPC != nil && out.leaseOwner == nil ? "true" : nil
            let pushed = out.pullMPC == nil ? "true" : nil
            context.log.log(reached == .delivered ? .warning : .error, reached == .delivered ? "error-after-receipt" : "failed",
                            fields.merging(["status": reached.rawValue, "late": late, "async": pushed, "elapsed_ms": ms(started)]) { $1 })
            return .empty(200)
        } catch {
            return processor.errorResponse(error, refTo: ref, started: started)
        }
    }

    /// Whose attempt a puller's error answers: the pull holding the lease, or, once the lease
    /// lapsed, the party the message is for (only it can have pulled it). A message never
    /// pulled (`sent`: `StoredMessage.wentOut`), or leased otherwise, has no answer of the
    /// puller's to record.
    func pullOwner(_ stored: StoredMessage, _ out: OutboundState, sent: Bool) throws -> String {
        let notPulled = EbmsError(.valueInconsistent, "the error refers to no message pulled from this gateway")
        guard sent else { throw notPulled }
        if let holder = out.leaseOwner {
            guard holder.hasPrefix("pull:") else { throw notPulled }
            return holder
        }
        guard let receiver = context.registry.current.parties.first(where: { $0.partyIds.map(\.description).contains(stored.metadata.toParty) }) else {
            throw notPulled
        }
        return "pull:\(receiver.name)"
    }

    /// The party that signed the signal; nil for an unsigned one, which only a message sent
    /// under an agreement without signing admits (anything else unsigned is refused).
    func authenticate(_ message: AS4Message, about stored: StoredMessage?) throws -> Routing.Party? {
        if message.envelope.securityHeaders.isEmpty, let stored, !signs(stored) { return nil }
        return try PullResponder(context: context).authenticate(message).party
    }

    /// Whether the agreement `stored` went under signs its messages (and so its signals).
    func signs(_ stored: StoredMessage) -> Bool {
        let set = context.pmodes
        guard let pmode = set.pmode(id: stored.metadata.pmodeId ?? ""),
              let leg = pmode.legs.first(where: { $0.service.value == stored.metadata.service && $0.action == stored.metadata.action })
        else { return true }
        return leg.security.sign
    }

    var processor: InboundProcessor { InboundProcessor(context: context, client: client) }
}
