import EnvelopeXML
import Foundation
import HTTPServer

/// The answer to a SOAP 1.1 envelope. eDelivery AS4 fixes SOAP 1.2 (`PMode[].Protocol.SOAPVersion`),
/// and SOAP 1.2 Part 1 Appendix A says how a SOAP 1.2 node that does not process SOAP 1.1 answers
/// one: a VersionMismatch fault in a SOAP 1.1 envelope, with an Upgrade header block naming the
/// SOAP 1.2 envelope. A SOAP 1.2 Sender fault, as before, is one the sender's SOAP 1.1 stack
/// cannot read. ebMS senders look for an eb:Error rather than a fault, so the envelope carries
/// one too (EBMS:0010: the message does not fit the agreement's SOAP version). It is not signed:
/// our signatures are built for SOAP 1.2 envelopes, and a signal in the sender's version is what
/// it can read.
extension InboundProcessor {
    static let soap11ContentType = "text/xml; charset=utf-8"

    func versionMismatch(refTo: String?, started: Date, fields: [String: String?] = [:]) -> HTTPResponse {
        let e = EbmsError(.processingModeMismatch, "SOAP 1.1 envelope: this gateway processes SOAP 1.2 only (eDelivery AS4)")
        context.metrics.noteInboundError(code: e.code.rawValue)
        context.log.log(.warning, "refused", fields.merging(["message_id": refTo, "error_code": e.code.rawValue, "reason": e.reason,
                                                             "elapsed_ms": ms(started), "client": client]) { $1 })
        var detail = ErrorDetail(e)
        detail.refToMessageInError = refTo
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: Identifier.messageId(domain: context.messageIdDomain), refToMessageId: refTo),
                                   kind: .errors([detail]))
        // SOAP 1.1's HTTP binding answers a fault with 500 (SOAP 1.1 §6.2).
        let fault = SOAPFault(code: .versionMismatch, reason: "Version Mismatch: SOAP 1.2 only")
        return .bytes(500, contentType: Self.soap11ContentType, EnvelopeBuilder.envelope(Messaging(signal), soapVersion: .soap11, fault: fault))
    }

    /// Whether `envelope` is a SOAP 1.1 Envelope, for a message whose header could not be read.
    static func isSOAP11(_ envelope: [UInt8]) -> Bool {
        guard let document = try? XMLDocument(parsing: envelope, limits: .envelope), let root = document.root else { return false }
        return root.isElement("Envelope", NS.soap11)
    }
}
