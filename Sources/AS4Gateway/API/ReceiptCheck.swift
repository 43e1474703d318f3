import EnvelopeXML
import Foundation
import MessageStore
import Routing
import WSSecurity

/// Checks a stored AS4 receipt again, as the outbound worker did when it arrived: signed by the
/// receiving party's certificate with the agreed algorithms, for our message, acknowledging
/// exactly the parts we signed.
struct ReceiptCheck {
    let context: GatewayContext

    func verify(_ receipt: Data, as4MessageId: String) -> (valid: Bool, detail: String) {
        do {
            guard let sent = try context.store.findMessage(id: as4MessageId, direction: .outbound) else {
                return (false, "the AS4 message \(as4MessageId) is not in the store")
            }
            // The receipt is judged as of when it arrived: a certificate that has expired since
            // (or been replaced by its successor, or revoked later) still signed it then.
            let at = sent.receiptAt ?? Date()
            guard let agreement = try SentAgreement.of(sent, at: at, context: context) else {
                return (false, "the agreement the message was sent under is no longer configured")
            }
            let pmode = agreement.pmode
            let certs = agreement.signingCertificates
            guard let references = SentReferenceCoding.decode(sent.outbound?.sentReferences) else {
                return (false, "the references signed at sending are missing")
            }
            var policy = pmode.legs.first { $0.action == sent.metadata.action }?.security.policy ?? .receiving
            policy.requireEncryption = false
            let verifier = SignatureVerifier(policy: policy, trust: try context.validator(pinned: certs), candidates: certs,
                                             expectedSigners: certs, checkRevocation: !context.crls.isEmpty)
            let message = try AS4Message.read(try MessageInput.load(bytes: [UInt8](receipt), contentType: "application/soap+xml"))
            _ = try ReceiptValidator(verifier: verifier).validate(message, sentMessageId: as4MessageId, sentReferences: references, at: at)
            // An agreement without signing takes an unsigned receipt for delivery, but only a
            // signed one proves sending.
            guard message.envelope.hasSignature, !references.isEmpty else {
                return (false, "the receipt is not signed for the parts we signed (an agreement without signing): it shows reception, not proof of sending")
            }
            return (true, "signed by \(agreement.receiver), acknowledges message \(as4MessageId) and the digest of each of its \(references.count) signed parts")
        } catch let e as EbmsError {
            return (false, e.reason)
        } catch {
            return (false, "\(error)")
        }
    }
}
