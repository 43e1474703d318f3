import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import Routing
import WSSecurity

/// How the AS4 endpoint refuses a message: an ebMS Error signal on the back-channel, and one log
/// line (`refused`, naming the client it came from), or the condition it met (`disk-full`,
/// `store-unavailable`) at the rate `RequestFailureLog` keeps.
extension InboundProcessor {
    /// An ebMS Error signal on the back-channel: HTTP 500 for failures (the message was not
    /// accepted), 503 with `Retry-After` for temporary ones of ours, 200 for warnings. Signed
    /// when we can sign. `notUnderstood`: the mandatory header blocks we do not process, for an
    /// env:MustUnderstand fault that names each one.
    func errorResponse(_ error: Error, refTo: String?, started: Date, fields: [String: String?] = [:],
                       notUnderstood: [HeaderBlockName] = [], security: LegSecurity? = nil) -> HTTPResponse {
        let (status, envelope) = errorSignal(error, refTo: refTo, started: started, fields: fields, notUnderstood: notUnderstood,
                                             security: security)
        var response = HTTPResponse.bytes(status, contentType: MultipartWriter.soapContentType, envelope)
        if status == 503, let seconds = Self.retryAfter(error) { response.headers["Retry-After"] = String(seconds) }
        return response
    }

    /// How long a sender should wait before sending again when `error` is a temporary condition
    /// on our side (a full disk, a store that cannot answer now); nil for any other failure.
    static func retryAfter(_ error: Error) -> Int? {
        if DiskFull.matches(error) { return DiskFull.retryAfterSeconds }
        if StoreOutage.matches(error) { return StoreOutage.retryAfterSeconds }
        return nil
    }

    /// The ebMS Error signal for `error` (logged as `refused`) and the HTTP status it goes with.
    func errorSignal(_ error: Error, refTo: String?, started: Date, fields: [String: String?] = [:],
                     notUnderstood: [HeaderBlockName] = [], security: LegSecurity? = nil) -> (status: Int, envelope: [UInt8]) {
        // Our own failures (disk, store) are DeliveryFailure to the peer with no internals on the
        // wire (AS4-WIRE §1.8); the detail stays in our log. EBMS:0202, not EBMS:0004 Other: the
        // eDelivery profile says a receiver that cannot process a message returns no receipt
        // and SHOULD return EBMS:0202 (ED115 §1.4.3.2), and 0004 is a Content error, which
        // reads as a fault of the message itself rather than of our side at the moment.
        let e = (error as? EbmsError) ?? EbmsError(.deliveryFailure, "the message could not be processed; it may be sent again")
        let fields = fields.merging(["client": client]) { own, _ in own }
        // A full disk or a store outage fails every request while it lasts: named as what it is
        // and logged once a minute with a count (`RequestFailureLog`), in place of an
        // internal-error and a refused line per request.
        if let condition = RequestFailureLog.Condition(error) {
            context.requestFailures.note(condition, listener: "as4", error: error, log: context.log, fields: fields.merging([
                "message_id": refTo, "error_code": e.code.rawValue, "elapsed_ms": ms(started)]) { $1 })
        } else if !(error is EbmsError) {
            context.log.log(.error, "internal-error", fields.merging(["message_id": refTo, "reason": "\(error)"]) { $1 })
        }
        context.metrics.noteInboundError(code: e.code.rawValue)
        var detail = ErrorDetail(e)
        detail.refToMessageInError = refTo
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: Identifier.messageId(domain: context.messageIdDomain), refToMessageId: refTo),
                                   kind: .errors([detail]))
        // An empty pull is the normal answer to a puller's poll, not a refusal: a line every
        // poll would bury the log.
        let empty = e.code == .emptyMessagePartitionChannel
        if RequestFailureLog.Condition(error) == nil {
            context.log.log(empty ? .debug : e.code.severity == .warning ? .info : .warning, empty ? "pull-empty" : "refused",
                            fields.merging(["message_id": refTo, "error_code": e.code.rawValue, "reason": e.reason, "elapsed_ms": ms(started)]) { $1 })
        }
        // A failure goes back with HTTP 500 and, for SOAP stacks reading that status, a SOAP Fault
        // beside the eb:Error (ebMS3 §6.6): MustUnderstand when mandatory header blocks were not
        // processed, Receiver when we could not process it, else Sender. A full disk or a store
        // that cannot answer now is temporary: 503 (with Retry-After) tells any AS4 sender to
        // retry, not to give the message up.
        let status = Self.retryAfter(error) != nil ? 503 : e.code.severity == .warning ? 200 : 500
        let code: SOAPFault.Code = !notUnderstood.isEmpty ? .mustUnderstand : [.deliveryFailure, .other].contains(e.code) ? .receiver : .sender
        let fault = status == 200 ? nil : SOAPFault(code: code, reason: "\(e.code.rawValue) \(e.code.shortDescription)", notUnderstood: notUnderstood)
        let envelope = (try? MessageSealer(signer: try context.signatureBuilder(for: security)).seal(signal: signal, fault: fault).envelope)
            ?? EnvelopeBuilder.envelope(Messaging(signal), fault: fault)
        return (status, envelope)
    }
}
